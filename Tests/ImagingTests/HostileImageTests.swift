import Foundation
import Imaging
import PlateKeeperCore
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Bytes from outside that must not crash a decoder, poison the next image or eat memory.
@Suite("Hostile images")
struct HostileImageTests {
    /// A real photo, JPEG-encoded, from TestFrames.
    static func goodJPEG() throws -> [UInt8] {
        try BoundedFile.read((TestPaths.testFrames as NSString).appendingPathComponent("stills/day-clear.jpg"), limit: 1 << 24)
    }

    /// SOI, APP0, SOF0 claiming `width`×`height`, and nothing after: no Huffman tables, no SOS.
    static func jpegHeader(width: Int, height: Int, sof: UInt8 = 0xC0) -> [UInt8] {
        let app0: [UInt8] = [0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]
        let sofSegment: [UInt8] = [
            0xFF, sof, 0x00, 0x0B, 0x08, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF),
            0x01, 0x01, 0x11, 0x00,
        ]
        return [0xFF, 0xD8] + app0 + sofSegment
    }

    /// A real JPEG whose frame header is rewritten to claim another size.
    static func jpegClaiming(width: Int, height: Int) throws -> [UInt8] {
        var bytes = try JPEGEncoder().encode(testImage(width: 64, height: 48))
        let sof = try #require((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes[sof + 5] = UInt8(height >> 8)
        bytes[sof + 6] = UInt8(height & 0xFF)
        bytes[sof + 7] = UInt8(width >> 8)
        bytes[sof + 8] = UInt8(width & 0xFF)
        return bytes
    }

    /// JPEGs made by Pillow from one grey pattern (written beside them as PGM): CMYK baseline and
    /// progressive, and a grey progressive one.
    static func pillowJPEGs(_ dir: TemporaryDirectory) throws -> String {
        let script = """
            import sys
            from PIL import Image
            out = sys.argv[1]
            grey = Image.new("L", (96, 64))
            grey.putdata([(x * 5 + (y // 8) * 30) % 256 for y in range(64) for x in range(96)])
            grey.save(out + "/grey.pgm")
            cmyk = grey.convert("RGB").convert("CMYK")
            cmyk.save(out + "/cmyk.jpg", quality=95)
            cmyk.save(out + "/cmyk-progressive.jpg", quality=95, progressive=True)
            grey.save(out + "/grey-progressive.jpg", quality=90, progressive=True)
            """
        let result = try runCommand("/usr/bin/python3", ["-c", script, dir.path])
        #expect(result.status == 0, "\(result.stderr)")
        return dir.path
    }

    @Test("CMYK JPEGs, baseline and progressive, decode to the luma of the picture they hold")
    func cmyk() throws {
        let dir = try TemporaryDirectory()
        _ = try Self.pillowJPEGs(dir)
        let truth = try PGMDecoder.decode(BoundedFile.read(dir.file("grey.pgm"), limit: 1 << 20))
        for name in ["cmyk.jpg", "cmyk-progressive.jpg"] {
            let image = try JPEGDecoder().decode(BoundedFile.read(dir.file(name), limit: 1 << 20))
            #expect(image.width == 96 && image.height == 64)
            let error = zip(image.pixels, truth.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +) / image.pixels.count
            #expect(error < 6, "\(name): mean luma error \(error)")
        }
    }

    @Test("a progressive JPEG of thousands of scans (a scan bomb) is refused from its markers, before any is decoded; a real progressive JPEG decodes")
    func scanBomb() throws {
        let dir = try TemporaryDirectory()
        _ = try Self.pillowJPEGs(dir)
        let real = try BoundedFile.read(dir.file("grey-progressive.jpg"), limit: 1 << 20)
        #expect(try JPEGDecoder().decode(real).width == 96)
        // The last scan repeated 3,000 times before EOI.
        let lastScan = try #require((0..<(real.count - 1)).last { real[$0] == 0xFF && real[$0 + 1] == 0xDA })
        let scan = Array(real[lastScan..<(real.count - 2)])
        var bomb = Array(real[..<(real.count - 2)])
        for _ in 0..<3000 { bomb += scan }
        bomb += [0xFF, 0xD9]
        #expect { _ = try JPEGDecoder().decode(bomb) } throws: { "\($0)".contains("scans; the limit is 64") }
    }

    @Test("after any bad JPEG the same decoder still decodes a good one", arguments: [
        "random bytes after SOI", "a header without SOS", "a width over 65500", "a progressive header without data", "truncated",
    ])
    func noPoisoning(_ kind: String) throws {
        var random = SeededRandom(seed: 18)
        let good = try Self.goodJPEG()
        let bad: [UInt8] = switch kind {
        case "random bytes after SOI": [0xFF, 0xD8] + (0..<4000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        case "a header without SOS": Self.jpegHeader(width: 640, height: 480)
        case "a width over 65500": Self.jpegHeader(width: 65_535, height: 16)
        case "a progressive header without data": Self.jpegHeader(width: 800, height: 600, sof: 0xC2)
        default: Array(good.prefix(good.count / 4))
        }
        let decoder = try ImageFileDecoder()
        #expect(throws: ImagingError.self) { try decoder.decode(bad) }
        for _ in 0..<2 {
            let image = try decoder.decode(good)
            #expect(image.width == 1280 && image.height == 720)
        }
        // The MJPEG path of a camera stream reuses one decoder in the same way.
        #expect(throws: ImagingError.self) { try decoder.decodeFrame(bad, format: .mjpeg, width: 1280, height: 720) }
        #expect(try decoder.decodeFrame(good, format: .mjpeg, width: 1280, height: 720).width == 1280)
    }

    @Test("image bombs are refused from the header, before their pixels are allocated", arguments: [
        "PGM 40000x40000", "PNG 40000x40000", "RGB PNG 20000x20000", "JPEG 8000x8000", "PNG 6000x6000",
    ])
    func bombs(_ kind: String) throws {
        let bytes: [UInt8] = switch kind {
        case "PGM 40000x40000": Array("P5\n40000 40000\n255\n".utf8) + [UInt8](repeating: 7, count: 100)
        case "PNG 40000x40000": PNGFile.make(width: 40_000, height: 40_000, colour: false, rows: [])
        case "RGB PNG 20000x20000": PNGFile.make(width: 20_000, height: 20_000, colour: true, rows: [])
        case "PNG 6000x6000": PNGFile.make(width: 6000, height: 6000, colour: false, rows: [])
        default: try Self.jpegClaiming(width: 8000, height: 8000)
        }
        #expect(bytes.count < 2000, "the bomb itself is small")
        do {
            _ = try ImageFileDecoder().decode(bytes)
            Issue.record("\(kind) was decoded")
        } catch {
            #expect(error.code == .tooLarge, "\(kind): \(error)")
            #expect(error.message.contains("megapixels"))
        }
        #expect(peakResidentBytes() < 1 << 30, "peak memory stays far below what the header claims")
    }

    @Test("raw frames and files over the limits are refused before allocation")
    func rawLimits() {
        do {
            _ = try RawFrame.luma([1, 2, 3], format: .yuyv, width: 16384, height: 16384)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .tooLarge)
        }
        #expect(throws: ImagingError.self) {
            try ImageFileDecoder().decode([0x50, 0x35] + [UInt8](repeating: 0x20, count: DecodeLimits.maxFileBytes))
        }
    }

    @Test("PNG: grey and colour images decode to the luma Leptonica gave (0.3, 0.5, 0.2)")
    func pngColour() throws {
        let grey = PNGFile.make(width: 3, height: 2, colour: false, rows: [[0, 128, 255], [1, 2, 3]])
        #expect(try ImageFileDecoder().decode(grey).pixels == [0, 128, 255, 1, 2, 3])
        let colour = PNGFile.make(width: 2, height: 1, colour: true, rows: [[255, 0, 0, 10, 200, 40]])
        // 0.3·255 = 76.5 → 77; 0.3·10 + 0.5·200 + 0.2·40 = 111.
        #expect(try ImageFileDecoder().decode(colour).pixels == [77, 111])
    }

    @Test("PNG and PGM damage is an error naming the call, not a crash")
    func damaged() throws {
        let png = PNGFile.make(width: 8, height: 8, colour: false, rows: Array(repeating: Array(0..<8), count: 8))
        #expect(try ImageFileDecoder().decode(png).width == 8)
        var badCRC = png
        badCRC[40] ^= 0xFF
        for bytes in [Array(png.prefix(png.count - 20)), badCRC, Array(png.prefix(30))] {
            do {
                _ = try ImageFileDecoder().decode(bytes)
                Issue.record("damaged PNG decoded")
            } catch {
                #expect(error.code == .corrupt)
                #expect(error.call?.hasPrefix("png_image") == true)
            }
        }
        for text in ["P5\n4 4\n255\n", "P5\n4", "P5\n# only a comment\n", "P5\n4 4\n0\n....", "P5 99999999999 2 255 "] {
            #expect(throws: ImagingError.self, "\(text)") { try PGMDecoder.decode(Array(text.utf8)) }
        }
    }

    @Test("PGM: 8 and 16 bits, comments, maxval scaling")
    func pgm() throws {
        let eight = Array("P5\n# made by hand\n3 1\n255\n".utf8) + [0, 100, 255]
        #expect(try ImageFileDecoder().decode(eight).pixels == [0, 100, 255])
        let sixteen = Array("P5 2 1 1000\n".utf8) + [0x03, 0xE8, 0x01, 0xF4]
        #expect(try PGMDecoder.decode(sixteen).pixels == [255, 128])
        // What PGMEncoder writes, the decoder reads back as it was.
        let image = LumaImage(width: 3, height: 2, pixels: [0, 7, 255, 128, 1, 99])
        let decoded = try PGMDecoder.decode(PGMEncoder.encode(image))
        #expect(decoded.width == 3 && decoded.height == 2 && decoded.pixels == image.pixels)
    }

    @Test("files: only regular files, bounded, a FIFO does not hang the reader")
    func boundedFiles() throws {
        let dir = try TemporaryDirectory()
        let empty = try dir.write("empty.jpg", [UInt8]())
        #expect(try BoundedFile.read(empty, limit: 10) == [])
        let ten = try dir.write("ten", [UInt8](repeating: 1, count: 10))
        #expect(try BoundedFile.read(ten, limit: 10).count == 10)
        #expect(throws: BoundedFile.Failure(path: ten, reason: .tooLarge(limit: 9))) { try BoundedFile.read(ten, limit: 9) }
        let fifo = dir.file("fifo.jpg")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: BoundedFile.Failure(path: fifo, reason: .notRegularFile)) { try BoundedFile.read(fifo, limit: 10) }
        #expect(throws: BoundedFile.Failure(path: dir.path, reason: .notRegularFile)) { try BoundedFile.read(dir.path, limit: 10) }
        do {
            _ = try BoundedFile.read(dir.file("missing"), limit: 10)
        } catch {
            #expect(error.isMissing)
        }
    }
}

/// Peak resident memory of this process so far (`getrusage`, in bytes).
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// Writes PNG files by hand (stored, uncompressed deflate blocks), so tests can claim any size.
enum PNGFile {
    static func make(width: Int, height: Int, colour: Bool, rows: [[UInt8]]) -> [UInt8] {
        var ihdr: [UInt8] = []
        for v in [width, height] { ihdr += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
        ihdr += [8, colour ? 2 : 0, 0, 0, 0]
        var raw: [UInt8] = []
        for row in rows { raw += [0] + row }  // filter type 0 per row
        // zlib: header, one stored block, Adler-32.
        var zlib: [UInt8] = [0x78, 0x01, 0x01, UInt8(raw.count & 0xFF), UInt8(raw.count >> 8), UInt8(~raw.count & 0xFF), UInt8((~raw.count >> 8) & 0xFF)]
        zlib += raw
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        let adler = b << 16 | a
        zlib += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: adler >> UInt32($0)) }
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", rows.isEmpty ? [] : zlib) + chunk("IEND", [])
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in body {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        let length = UInt32(data.count)
        return [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> UInt32($0)) } + body
            + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: crc >> UInt32($0)) }
    }
}
