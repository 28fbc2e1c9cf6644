@testable import Config
import Foundation
import PlateKeeperCore
import PlateKeeperTesting
import Testing

/// The TOML parser against the TOML 1.0 specification's examples and against hostile input.
@Suite("TOML")
struct TOMLTests {
    static func parse(_ text: String) throws -> TOMLTable { try TOMLParser.parse(text) }

    @Test("values of every kind, as the specification writes them")
    func values() throws {
        let t = try Self.parse(#"""
            # comment
            bare_key = "value"   # trailing comment
            "quoted key" = 'literal \n'
            int = +99
            neg = -17
            big = 9_223_372_036_854_775_807
            hex = 0xDEAD_beef
            oct = 0o755
            bin = 0b1101
            flt = -3.1415e-2
            exp = 5e+22
            inf = -inf
            nan = nan
            yes = true
            no = false
            odt = 1979-05-27T07:32:00-08:00
            ldt = 1979-05-27 07:32:00.999
            ld = 1979-05-27
            lt = 07:32:00
            esc = "tab\tquote\" \u00E9 \U0001F600"
            ml = """
            Roses are red\
                 Violets are blue"""
            mll = '''
            C:\path'''
            quotes = """"two" quotes""""
            arr = [ 1, 2, [3, "x"], { a = 1 }, ]
            multi = [
              "a", # comment inside
              "b"
            ]
            inline = { x = 1, y.z = "deep" }
            a.b.c = 1
            a.b.d = 2
            """#)
        #expect(t["bare_key"]?.string == "value")
        #expect(t["quoted key"]?.string == #"literal \n"#)
        #expect(t["int"]?.int == 99)
        #expect(t["neg"]?.int == -17)
        #expect(t["big"]?.int == Int.max)
        #expect(t["hex"]?.int == 0xDEAD_BEEF)
        #expect(t["oct"]?.int == 0o755)
        #expect(t["bin"]?.int == 13)
        #expect(t["flt"]?.double == -0.031415)
        #expect(t["exp"]?.double == 5e22)
        #expect(t["inf"]?.double == -.infinity)
        #expect(t["nan"]?.double?.isNaN == true)
        #expect(t["yes"]?.bool == true && t["no"]?.bool == false)
        #expect(t["odt"]?.type == "a date-time" && t["ldt"]?.type == "a date-time")
        #expect(t["ld"]?.type == "a date-time" && t["lt"]?.type == "a date-time")
        #expect(t["esc"]?.string == "tab\tquote\" é 😀")
        #expect(t["ml"]?.string == "Roses are redViolets are blue")
        #expect(t["mll"]?.string == #"C:\path"#)
        #expect(t["quotes"]?.string == #""two" quotes""#)
        #expect(t["arr"]?.array?.count == 4)
        #expect(t["arr"]?.array?[2].array?[1].string == "x")
        #expect(t["multi"]?.array?.compactMap(\.string) == ["a", "b"])
        #expect(t["inline"]?.table?["y"]?.table?["z"]?.string == "deep")
        #expect(t["a"]?.table?["b"]?.table?.keys == ["c", "d"])
        #expect(t["multi"]?.line == 28)
    }

    @Test("tables, arrays of tables and their lines")
    func tables() throws {
        let t = try Self.parse("""
            [x.y.z]
            k = 1
            [x]
            m = 2
            [[fruit]]
            name = "apple"
            [fruit.physical]
            color = "red"
            [[fruit]]
            name = "banana"
            [fruit.physical]
            color = "yellow"
            [ dog . "tater.man" ]
            type.name = "pug"
            """)
        #expect(t["x"]?.table?["y"]?.table?["z"]?.table?["k"]?.int == 1)
        #expect(t["x"]?.table?.line == 3)
        let fruit = try #require(t["fruit"]?.array)
        #expect(fruit.map { $0.table?["name"]?.string } == ["apple", "banana"])
        #expect(fruit[1].table?["physical"]?.table?["color"]?.string == "yellow")
        #expect(fruit[1].line == 9)
        #expect(t["dog"]?.table?["tater.man"]?.table?["type"]?.table?["name"]?.string == "pug")
    }

    /// Invalid documents and the line the error must name.
    static let invalid: [(String, Int)] = [
        ("a = 1\n[#x]\n", 2),
        ("a = 1\na = 2\n", 2),
        ("[t]\n[t]\n", 2),
        ("a = 1\n[a]\n", 2),
        ("a = []\n[[a]]\n", 2),
        ("[a]\n[[a]]\n", 2),
        ("a = {b = 1}\n[a.c]\n", 2),
        ("[fruit]\napple.color = 'red'\n[fruit.apple]\n", 3),
        ("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", 4),
        ("a = { b = 1, }\n", 1),
        ("a = { b = 1\n}\n", 1),
        ("a = [1, 2\n", 2),
        ("a = \"open\n", 1),
        ("a = '''never closed\n\n", 3),
        ("a = \"\\q\"\n", 1),
        ("a = \"\\uD800\"\n", 1),
        ("a = 9223372036854775808\n", 1),
        ("a = -9223372036854775809\n", 1),
        ("a = 0xG\n", 1),
        ("a = 01\n", 1),
        ("a = 1__2\n", 1),
        ("a = _1\n", 1),
        ("a = 1.\n", 1),
        ("a = .5\n", 1),
        ("a = +0x10\n", 1),
        ("a = 1 2\n", 1),
        ("a = tru\n", 1),
        ("a = bare\n", 1),
        ("= 1\n", 1),
        ("a\n", 1),
        ("a = 1\rb = 2\n", 1),
        ("\n\n[a\n", 3),
        ("[[a]\n", 1),
        ("a = \"\u{01}\"\n", 1),
        ("# \u{7F} in a comment\n", 1),
        ("a.b = 1\na = 2\n", 2),
        ("a = 1\na.b = 2\n", 2),
    ]

    @Test("invalid documents are errors naming the line", arguments: invalid.indices)
    func invalidDocuments(_ index: Int) {
        let (text, line) = Self.invalid[index]
        do {
            _ = try TOMLParser.parse(text)
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.line == line, "\(text.debugDescription): \(error)")
        }
    }

    @Test("hostile nesting, huge and random input: errors, never a crash or a trap")
    func hostile() {
        #expect(throws: TOMLParser.Failure.self) { try TOMLParser.parse("a = " + String(repeating: "[", count: 100_000)) }
        #expect(throws: TOMLParser.Failure.self) { try TOMLParser.parse("a = " + String(repeating: "{b=", count: 50_000)) }
        #expect(throws: TOMLParser.Failure.self) { try TOMLParser.parse("a = " + String(repeating: "9", count: 10_000)) }
        #expect(throws: TOMLParser.Failure.self) { try TOMLParser.parse(String(repeating: "[", count: 10_000)) }
        // A 30,000-part dotted key (60 KB) once took the loader to 880 MB and a SIGSEGV; as a key
        // and as a table header it is now one error naming its line.
        let deep = Array(repeating: "a", count: 30_000).joined(separator: ".")
        #expect(throws: TOMLParser.Failure(line: 2, message: "a dotted key has more than 32 parts")) { try TOMLParser.parse("\n" + deep + " = 1") }
        #expect(throws: TOMLParser.Failure.self) { try TOMLParser.parse("[" + deep + "]\nx = 1") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(deep + " = 1\n", file: "deep.toml") }
        #expect((try? TOMLParser.parse(Array(repeating: "a", count: 32).joined(separator: ".") + " = 1")) != nil, "32 parts are fine")
        var random = SeededRandom(seed: 1018)
        let alphabet = Array("[]{}=\"'#.,\n\r\t abc019_-+:eE\\u".utf8)
        for _ in 0..<3000 {
            let count = Int(random.next() % 80)
            let bytes = (0..<count).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            _ = try? TOMLParser.parse(String(decoding: bytes, as: UTF8.self))
        }
    }
}

/// Config files from outside that once crashed or misled the daemon.
@Suite("Hostile configuration")
struct HostileConfigTests {
    static let minimal = ConfigTests.minimal

    @Test("[#x] appended to a valid file is a syntax error with its line, not an abort")
    func tomlAbort() {
        do {
            _ = try ConfigLoader.parse(Self.minimal + "\n[#x]\n", file: "c.toml")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("c.toml:4: TOML syntax"), "\(error)")
        }
    }

    @Test("CRLF files keep their line numbers")
    func crlf() {
        let text = (Self.minimal + "\n[recognition]\nworkers = 99\n").replacingOccurrences(of: "\n", with: "\r\n")
        do {
            _ = try ConfigLoader.parse(text, file: "c.toml")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("c.toml:5: recognition.workers"), "\(error)")
        }
        #expect((try? ConfigLoader.parse(Self.minimal.replacingOccurrences(of: "\n", with: "\r\n"))) != nil)
    }

    /// Numbers that would overflow or be absurd later, each refused where it is read.
    static let unbounded: [(String, String, String)] = [
        ("roi = [9223372036854775807, 0, 1, 1]", "cameras[0].roi", "each 0 to 32768"),
        ("roi = [0, 0, 9223372036854775807, 9223372036854775807]", "cameras[0].roi", "each 0 to 32768"),
        ("roi = [-1, 0, 10, 10]", "cameras[0].roi", "each 0 to 32768"),
        ("min_char_height = -9223372036854775808", "cameras[0].min_char_height", "between 6 and 200"),
        ("stall_timeout = \"1e300d\"", "cameras[0].stall_timeout", "between"),
        ("speed = 1e-300", "cameras[0].speed", "between 0.01 and 1000"),
        ("speed = inf", "cameras[0].speed", "must be a number"),
        ("speed = nan", "cameras[0].speed", "must be a number"),
        ("width = 9223372036854775807", "cameras[0].width", "between 16 and 8192"),
    ]

    @Test("numbers that reach arithmetic are bounded when validated", arguments: unbounded.indices)
    func bounds(_ index: Int) {
        let (line, key, words) = Self.unbounded[index]
        let camera = line.hasPrefix("speed") ? "[[cameras]]\nid = \"r\"\nreplay = \"/srv/rec\"\n" : Self.minimal + "\n"
        do {
            _ = try ConfigLoader.parse(camera + line + "\n", file: "c.toml")
            Issue.record("accepted \(line)")
        } catch {
            let issue = error.issues.first { $0.key == key }
            #expect(issue != nil, "\(line): \(error)")
            #expect(issue?.message.contains(words) == true, "\(line): \(error)")
            #expect(issue?.line == 4 || line.hasPrefix("speed"), "\(line): \(error)")
        }
    }

    @Test("a socket path that is too long, or one of the journal's files, is refused")
    func socketPaths() {
        let long = "/run/" + String(repeating: "s", count: 120) + ".sock"
        for (socket, words) in [(long, "at most 107"), ("/var/lib/platekeeper/journal.sqlite", "journal's files"),
                                ("/var/lib/platekeeper/journal.sqlite-wal", "journal's files")] {
            do {
                _ = try ConfigLoader.parse(Self.minimal + "\n[status]\nsocket = \"\(socket)\"\n")
                Issue.record("accepted \(socket)")
            } catch {
                #expect(error.issues.contains { $0.key == "status.socket" && $0.message.contains(words) }, "\(error)")
            }
        }
    }

    @Test("a file too large to be a config, or not a file, is refused unread")
    func files() throws {
        let dir = try TemporaryDirectory()
        let big = try dir.write("big.toml", Self.minimal + "\n#" + String(repeating: "x", count: ConfigLoader.maxFileBytes))
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: big) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: dir.path) }
    }

    @Test("mutations of the shipped example never crash the loader")
    func mutations() throws {
        let path = (TestPaths.repository as NSString).appendingPathComponent("docs/platekeeper.toml")
        let original = Array(try String(contentsOfFile: path, encoding: .utf8).utf8)
        var random = SeededRandom(seed: 7)
        let insertions = Array("[]{}=\"'#.,\n\r 0123456789-e_x".utf8)
        for _ in 0..<500 {
            var bytes = original
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(insertions[Int(random.next() % UInt64(insertions.count))], at: at)
                default: bytes[at] = insertions[Int(random.next() % UInt64(insertions.count))]
                }
            }
            _ = try? ConfigLoader.parse(String(decoding: bytes, as: UTF8.self))
        }
    }
}
