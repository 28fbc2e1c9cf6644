import Capture
import Foundation
import Imaging
import PlateKeeperCore
import PlateKeeperTesting
import Testing

@Suite struct ReplaySourceTests {
    func gradient(_ w: Int, _ h: Int) -> LumaImage {
        LumaImage(width: w, height: h, pixels: (0..<(w * h)).map { UInt8($0 % 251) })
    }

    @Test func plansFilesFoldersAndRecordings() throws {
        let dir = try TemporaryDirectory()
        let jpeg = try JPEGEncoder().encode(gradient(32, 16))
        try dir.write("stills/b.jpg", jpeg)
        try dir.write("stills/a.jpg", jpeg)
        try dir.write("stills/notes.txt", "not an image")
        try dir.write("single.jpg", jpeg)
        try dir.write("rec/000001.raw", gradient(4, 2).pixels)
        try dir.write("rec/manifest.json", """
            {"version": 1, "camera": "gate", "frames": [
             {"file": "000001.raw", "captureTime": "2026-11-27T13:05:01.250Z", "pixelFormat": "GREY", "width": 4, "height": 2, "sequence": 41}]}
            """)
        let plan = ReplaySource.plan([dir.file("stills"), dir.file("single.jpg"), dir.file("rec"), dir.file("missing")])
        #expect(plan.items.map { ($0.path as NSString).lastPathComponent } == ["a.jpg", "b.jpg", "single.jpg", "000001.raw"])
        #expect(plan.errors.count == 1)
        #expect(plan.errors.first?.code == .notFound)

        let source = try ReplaySource()
        let recorded = try source.frame(for: plan.items[3])
        #expect(recorded.camera == "gate")
        #expect(recorded.sequence == 41)
        #expect(recorded.captureTime.iso8601 == "2026-11-27T13:05:01.250Z")
        #expect(recorded.captureTime.quality == .recorded)
        #expect(recorded.image == gradient(4, 2))

        let still = try source.frame(for: plan.items[0])
        #expect(still.image.width == 32)
        #expect(still.captureTime.quality == .fileTime)
    }

    @Test func badManifestFailsOnlyItsRecording() throws {
        let dir = try TemporaryDirectory()
        try dir.write("good.jpg", try JPEGEncoder().encode(gradient(8, 8)))
        try dir.write("rec/manifest.json", #"{"version": 1, "frames": [{"file": "x.jpg"}]}"#)
        let plan = ReplaySource.plan([dir.file("rec"), dir.file("good.jpg")])
        #expect(plan.items.count == 1)
        #expect(plan.errors.first?.code == .badManifest)
        #expect(plan.errors.first?.description.contains("manifest.json") == true)
    }

    @Test func badFramesAreErrorsNamingTheFile() throws {
        let dir = try TemporaryDirectory()
        let jpeg = try JPEGEncoder().encode(gradient(320, 240))
        try dir.write("rec/torn.jpg", Array(jpeg.prefix(jpeg.count / 3)))
        try dir.write("rec/short.yuv", [UInt8](repeating: 0, count: 100))
        try dir.write("rec/text.jpg", "this is not a picture")
        try dir.write("rec/ok.jpg", jpeg)
        try dir.write("rec/manifest.json", """
            {"version": 1, "frames": [
             {"file": "torn.jpg", "captureTime": "2026-11-27T13:05:01.000Z"},
             {"file": "short.yuv", "captureTime": "2026-11-27T13:05:01.100Z", "pixelFormat": "YUYV", "width": 64, "height": 48},
             {"file": "text.jpg", "captureTime": "2026-11-27T13:05:01.200Z"},
             {"file": "gone.jpg", "captureTime": "2026-11-27T13:05:01.300Z"},
             {"file": "ok.jpg", "captureTime": "2026-11-27T13:05:01.400Z"}]}
            """)
        let plan = ReplaySource.plan([dir.file("rec")])
        #expect(plan.items.count == 5)
        let source = try ReplaySource()
        var errors: [CaptureError] = []
        var frames: [Frame] = []
        for item in plan.items {
            do { frames.append(try source.frame(for: item)) } catch { errors.append(error) }
        }
        // The good frame after four bad ones still decodes.
        #expect(frames.map(\.name) == ["ok.jpg"])
        #expect(errors.map(\.code) == [.badFrame, .badFrame, .badFrame, .notFound])
        #expect(errors[0].description.contains("torn.jpg") && errors[0].description.contains("corrupt"))
        #expect(errors[1].description.contains("short.yuv") && errors[1].description.contains("needs 6144 bytes, got 100"))
        #expect(errors[2].description.contains("unsupported-format"))
        #expect(errors[3].path.hasSuffix("gone.jpg"))
    }
}

@Suite struct ReplayPlanTests {
    @Test func foldersAreWalkedWithRecordingsInside() throws {
        let dir = try TemporaryDirectory()
        let jpeg = try JPEGEncoder().encode(LumaImage(width: 8, height: 8, fill: 90))
        try dir.write("top.jpg", jpeg)
        try dir.write("b-stills/x.jpg", jpeg)
        try dir.write("a-rec/f1.jpg", jpeg)
        try dir.write("a-rec/ignored.jpg", jpeg)
        try dir.write("a-rec/manifest.json", #"{"version": 1, "camera": "cam", "frames": [{"file": "f1.jpg", "captureTime": "2026-11-27T13:05:01Z"}]}"#)
        try dir.write(".hidden/y.jpg", jpeg)
        let plan = ReplaySource.plan([dir.path])
        #expect(plan.errors.isEmpty)
        #expect(plan.items.map { ($0.path as NSString).lastPathComponent } == ["top.jpg", "f1.jpg", "x.jpg"])
        #expect(plan.items[1].camera == "cam")
    }
}
