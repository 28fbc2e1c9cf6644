import Foundation
import PlateKeeperTesting
@testable import Recognition
import Testing

/// Reading Tesseract's model container and handing it over without the word dictionary.
struct TraineddataTests {
    /// A container with `slots` slots holding the given entries (slot → bytes).
    private func container(slots: Int, _ entries: [Int: [UInt8]]) -> [UInt8] {
        var out = Traineddata.header(slots: slots, sizes: entries.mapValues(\.count))
        for slot in entries.keys.sorted() { out += entries[slot]! }
        return out
    }

    @Test func droppingAnEntryKeepsTheOthersIntact() throws {
        let dir = try TemporaryDirectory()
        let entries: [Int: [UInt8]] = [17: Array(repeating: 1, count: 300), 18: [2, 2], 19: Array(repeating: 3, count: 5000), 21: [4, 4, 4]]
        let path = try dir.write("x.traineddata", container(slots: 24, entries))
        let stripped = try Traineddata.load(path, dropping: [.lstmWordDawg])
        var expected = entries
        expected[19] = nil
        #expect(stripped == container(slots: 24, expected))
        // Read back: the table points at each kept entry, the dropped one is absent.
        let table = try Traineddata.entries(count: 24, table: Array(stripped[4..<(4 + 8 * 24)]), fileSize: stripped.count, path: "stripped")
        #expect(Set(table.keys) == [17, 18, 21])
        for (slot, range) in table { #expect(Array(stripped[range]) == entries[slot]) }
    }

    @Test func theInstalledModelLosesItsDictionaryAndStillReads() throws {
        let path = TesseractEngine.defaultDataPath + "/eng.traineddata"
        let whole = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let stripped = try Traineddata.load(path, dropping: [.lstmWordDawg])
        #expect(stripped.count < whole.count / 2)
        // The engine built from it reads a TestFrames still (the reader tests read them all).
        let still = try #require(try testFrameStills().first)
        let reads = try PlateReader().read(still.frame.image)
        #expect(reads.first?.text == still.plate)
    }

    @Test(arguments: [
        ("short", [UInt8]([1, 0])),
        ("count", [UInt8]([0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0])),
        ("table", [UInt8]([3, 0, 0, 0, 0, 0, 0, 0])),
        ("offset", [UInt8]([1, 0, 0, 0]) + withUnsafeBytes(of: Int64(2).littleEndian, Array.init) + [9, 9]),
        ("past end", [UInt8]([1, 0, 0, 0]) + withUnsafeBytes(of: Int64(500).littleEndian, Array.init) + [9, 9]),
    ])
    func damagedFilesAreNamedErrors(label: String, bytes: [UInt8]) throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("eng.traineddata", bytes)
        #expect(throws: RecognitionError.self, "\(label)") { try Traineddata.load(path, dropping: [.lstmWordDawg]) }
        do {
            _ = try TesseractEngine(language: "eng", dataPath: dir.path)
            Issue.record("\(label): an engine was made from a damaged model")
        } catch {
            #expect(error.message.contains("eng.traineddata"))
        }
    }
}
