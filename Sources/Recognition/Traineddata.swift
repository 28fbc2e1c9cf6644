#if canImport(Glibc)
import Glibc
#endif

/// A Tesseract `.traineddata` file: the container Tesseract's `TessdataManager` reads. An entry
/// count (little-endian Int32), a table of that many Int64 offsets (-1 where the entry is
/// absent), then the entries back to back in offset order.
///
/// The reader uses it to hand Tesseract its model without the word dictionary
/// (`lstm-word-dawg`, 3.7 MB of the 4.1 MB `eng` file, as much again in memory once loaded):
/// plates are not words, and the dictionary only costs memory on a small unit. Only the entries
/// kept are read from disk, so the dictionary never passes through memory at all.
enum Traineddata {
    /// Entry numbers of `TessdataType` (tesseract/ccutil/tessdatamanager.h) that the reader uses.
    enum Entry: Int {
        case lstm = 17
        case lstmPunctuationDawg = 18
        case lstmWordDawg = 19
        case lstmNumberDawg = 20
        case lstmUnicharset = 21
        case lstmRecoder = 22
    }

    /// The file at `path` without the `dropped` entries, as Tesseract reads it from memory.
    static func load(_ path: String, dropping dropped: Set<Entry>) throws(RecognitionError) -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw RecognitionError(call: "fopen", "\(path): \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        guard fseek(f, 0, SEEK_END) == 0 else { throw RecognitionError(call: "fseek", "\(path): \(String(cString: strerror(errno)))") }
        let size = ftell(f)
        func read(_ range: Range<Int>) throws(RecognitionError) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: range.count)
            guard fseek(f, range.lowerBound, SEEK_SET) == 0, fread(&bytes, 1, range.count, f) == range.count else {
                throw RecognitionError(call: "fread", "\(path): cannot read bytes \(range) (\(String(cString: strerror(errno))))")
            }
            return bytes
        }
        let count = try slots(in: read(0..<min(4, size)), path: path)
        let table = try entries(count: count, table: read(4..<min(4 + 8 * count, size)), fileSize: size, path: path)
        let kept = table.filter { entry in !dropped.contains { $0.rawValue == entry.key } }
        var out = header(slots: count, sizes: kept.mapValues(\.count))
        for slot in kept.keys.sorted() { out += try read(kept[slot]!) }
        return out
    }

    /// The entry count from the file's first four bytes.
    static func slots(in first: [UInt8], path: String) throws(RecognitionError) -> Int {
        guard first.count == 4 else { throw RecognitionError(call: "Traineddata", "\(path): too short for its entry count") }
        let count = Int(Int32(littleEndian: first.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }))
        // TessdataManager knows fewer than 30 entry types; anything else is not a traineddata.
        guard count > 0, count < 64 else { throw RecognitionError(call: "Traineddata", "\(path): implausible entry count \(count)") }
        return count
    }

    /// Entry number → byte range in the file, from the offset table.
    static func entries(count: Int, table: [UInt8], fileSize: Int, path: String) throws(RecognitionError) -> [Int: Range<Int>] {
        guard table.count == 8 * count else { throw RecognitionError(call: "Traineddata", "\(path): too short for its \(count)-entry table") }
        let offsets = (0..<count).map { i in
            Int(Int64(littleEndian: table.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self) }))
        }
        let present = offsets.enumerated().filter { $0.element >= 0 }.sorted { $0.element < $1.element }
        var ranges: [Int: Range<Int>] = [:]
        for (k, entry) in present.enumerated() {
            let end = k + 1 < present.count ? present[k + 1].element : fileSize
            guard entry.element >= 4 + 8 * count, entry.element <= end else {
                throw RecognitionError(call: "Traineddata", "\(path): entry \(entry.offset) at offset \(entry.element) lies outside the file's data")
            }
            ranges[entry.offset] = entry.element..<end
        }
        return ranges
    }

    /// Entry count and offset table for entries of the given sizes stored in slot order.
    static func header(slots: Int, sizes: [Int: Int]) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: Int32(slots).littleEndian) { out += $0 }
        var offset = 4 + 8 * slots
        for slot in 0..<slots {
            let value: Int64
            if let size = sizes[slot] {
                value = Int64(offset)
                offset += size
            } else {
                value = -1
            }
            withUnsafeBytes(of: value.littleEndian) { out += $0 }
        }
        return out
    }
}
