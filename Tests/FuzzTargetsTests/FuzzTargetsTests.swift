import Foundation
import FuzzTargets
import PlateKeeperTesting
import Testing

/// Every seed of the fuzzing corpora, and every input a fuzzer ever found to crash, hang or leak
/// (Fuzz/Regressions), run through the same entry points libFuzzer drives: each must return.
@Suite("Fuzz corpora and regressions")
struct FuzzTargetsTests {
    static let fuzz = (TestPaths.repository as NSString).appendingPathComponent("Fuzz")

    static func inputs(_ target: String) -> [String] {
        ["Corpus", "Regressions"].flatMap { kind -> [String] in
            let folder = "\(fuzz)/\(kind)/\(target)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.sorted().filter { !$0.hasPrefix(".") }.map { "\(folder)/\($0)" }
        }
    }

    @Test("every target has seeds, and every seed and regression input returns", arguments: FuzzTargets.all.keys.sorted())
    func replay(_ target: String) throws {
        let files = Self.inputs(target)
        #expect(files.count >= 3, "Fuzz/Corpus/\(target) holds seeds")
        let run = try #require(FuzzTargets.all[target])
        for file in files {
            run([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))))
        }
    }
}
