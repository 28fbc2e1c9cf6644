import Capture
import Foundation
import Imaging
import PlateKeeperCore
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Recordings and folders from outside: impossible dates, times at the ends of the range,
/// symbolic-link loops, files that are not files.
@Suite("Hostile recordings")
struct HostileRecordingTests {
    @Test("dates that do not exist, and offsets out of range, are not ISO 8601 times", arguments: [
        "2026-02-31T00:00:00Z", "2023-02-29T12:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
        "2026-01-10T00:00:00+99:00", "2026-01-10T00:00:00+01:75", "2026-01-00T00:00:00Z",
    ])
    func impossibleDates(_ text: String) {
        #expect(ISO8601.parse(text) == nil)
    }

    @Test("real dates parse, leap days included")
    func realDates() {
        #expect(ISO8601.parse("2024-02-29T12:00:00Z") != nil)
        #expect(ISO8601.parse("2000-02-29T00:00:00Z") != nil)
        #expect(ISO8601.parse("1900-02-29T00:00:00Z") == nil)
        #expect(ISO8601.parse("2026-12-31T23:59:59.999+14:00") != nil)
        // The ends of 64-bit nanoseconds: parsed, not trapped.
        #expect(ISO8601.parse("1678-01-01T00:00:00Z") != nil)
        #expect(ISO8601.parse("2261-12-31T23:59:59Z") != nil)
        #expect(ISO8601.nanoseconds(seconds: Int64.max) == nil)
        #expect(ISO8601.nanoseconds(seconds: 1e300) == nil)
        #expect(ISO8601.nanoseconds(seconds: .nan) == nil)
    }

    @Test("a manifest with capture times outside 1970 to 2199, or impossible dates, is refused", arguments: [
        ("1678-01-01T00:00:00Z", "outside 1970-01-01 to 2199-12-31"), ("2261-12-31T00:00:00Z", "outside 1970-01-01 to 2199-12-31"),
        ("2026-02-31T00:00:00Z", "not a real date"),
    ])
    func manifestTimes(_ time: String, _ message: String) {
        let json = #"{"version": 1, "frames": [{"file": "a.jpg", "captureTime": "2026-11-27T13:05:01Z"}, {"file": "b.jpg", "captureTime": "\#(time)"}]}"#
        do {
            _ = try RecordingManifest.parse(Data(json.utf8), path: "m.json")
            Issue.record("accepted \(time)")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
            #expect(error.message.contains("frames[1]"))
        }
    }

    @Test("symbolic links back to their own folder: every real file is planned once")
    func symlinkLoops() throws {
        let dir = try TemporaryDirectory()
        try dir.write("frames/a.jpg", try JPEGEncoder().encode(LumaImage(width: 16, height: 16)))
        for i in 0..<6 {
            #expect(symlink(dir.file("frames"), dir.file("frames/loop\(i)")) == 0)
        }
        #expect(symlink(dir.file("frames/a.jpg"), dir.file("frames/same.jpg")) == 0)
        let plan = ReplaySource.plan([dir.file("frames"), dir.file("frames/a.jpg")])
        #expect(plan.items.map(\.path) == [dir.file("frames/a.jpg")])
        #expect(plan.errors.isEmpty)
    }

    @Test("a FIFO, a folder named like a frame, an empty and a huge frame: errors, no hang")
    func notFrames() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("rec/folder.jpg"), withIntermediateDirectories: true)
        #expect(mkfifo(dir.file("rec/fifo.jpg"), 0o600) == 0)
        try dir.write("rec/empty.jpg", [UInt8]())
        let huge = dir.file("rec/huge.raw")
        #expect(FileManager.default.createFile(atPath: huge, contents: nil))
        #expect(truncate(huge, off_t(DecodeLimits.maxFileBytes + 1)) == 0)  // sparse: no disk used
        try dir.write("rec/manifest.json", """
            {"version": 1, "frames": [
             {"file": "fifo.jpg", "captureTime": "2026-11-27T13:05:01Z"},
             {"file": "folder.jpg", "captureTime": "2026-11-27T13:05:01.5Z"},
             {"file": "empty.jpg", "captureTime": "2026-11-27T13:05:02Z"},
             {"file": "huge.raw", "captureTime": "2026-11-27T13:05:03Z", "pixelFormat": "GREY", "width": 4096, "height": 4096}]}
            """)
        let plan = ReplaySource.plan([dir.file("rec")])
        #expect(plan.items.count == 4)
        let source = try ReplaySource()
        for item in plan.items {
            do {
                _ = try source.frame(for: item)
                Issue.record("\(item.path) gave a frame")
            } catch {
                #expect(error.code == .badFrame, "\(error)")
            }
        }
    }
}
