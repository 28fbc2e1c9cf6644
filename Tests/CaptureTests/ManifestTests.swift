import Capture
import Foundation
import PlateKeeperCore
import Testing

@Suite struct ManifestTests {
    @Test func parsesAValidManifest() throws {
        let json = """
            {"version": 1, "camera": "lane-1", "clockQuality": "synchronized", "frames": [
              {"file": "a.jpg", "captureTime": "2026-11-27T13:05:01.250Z"},
              {"file": "b.yuv", "captureTime": "2026-11-27T13:05:01.350Z", "pixelFormat": "YUYV", "width": 640, "height": 360,
               "sequence": 7, "camera": "lane-2"}]}
            """
        let m = try RecordingManifest.parse(Data(json.utf8), path: "m.json")
        #expect(m.frames.count == 2)
        #expect(m.frames[1].pixelFormat == "YUYV")
        #expect(m.frames[1].camera == "lane-2")
    }

    /// Each malformed manifest and a part of the message it must produce.
    static let bad: [(String, String)] = [
        ("{not json", "not valid JSON"),
        ("[]", "wrong type at top level"),
        (#"{"version": 1}"#, "missing key 'frames'"),
        (#"{"version": 2, "frames": []}"#, "unsupported manifest version 2"),
        (#"{"version": 1, "frames": [{"file": "a.jpg"}]}"#, "missing key 'captureTime' at .frames[0]"),
        (#"{"version": 1, "frames": [{"file": "a.jpg", "captureTime": "noon"}]}"#, "frames[0] (a.jpg): captureTime 'noon' is not ISO 8601"),
        (#"{"version": 1, "frames": [{"file": "a.jpg", "captureTime": 12}]}"#, "wrong type at .frames[0].captureTime"),
        (#"{"version": 1, "frames": [{"file": "../etc/passwd", "captureTime": "2026-11-27T13:05:01Z"}]}"#, "plain file name"),
        (#"{"version": 1, "frames": [{"file": "a.raw", "captureTime": "2026-11-27T13:05:01Z", "pixelFormat": "RGB3", "width": 2, "height": 2}]}"#, "pixelFormat 'RGB3' is not one of"),
        (#"{"version": 1, "frames": [{"file": "a.raw", "captureTime": "2026-11-27T13:05:01Z", "pixelFormat": "GREY"}]}"#, "need width and height"),
        (#"{"version": 1, "frames": [{"file": "a.raw", "captureTime": "2026-11-27T13:05:01Z", "pixelFormat": "GREY", "width": -4, "height": 2}]}"#, "need width and height"),
        (#"{"version": 1, "frames": [{"file": "a.jpg", "captureTime": "2026-11-27T13:05:01Z"}, {"file": "a.jpg", "captureTime": "2026-11-27T13:05:02Z"}]}"#, "listed twice"),
        (#"{"version": 1, "clockQuality": "great", "frames": []}"#, "clockQuality 'great'"),
    ]

    @Test(arguments: bad)
    func rejectsMalformedManifests(json: String, message: String) {
        do {
            _ = try RecordingManifest.parse(Data(json.utf8), path: "rec/manifest.json")
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.code == .badManifest)
            #expect(error.path == "rec/manifest.json")
            #expect(error.message.contains(message), "message was: \(error.message)")
        }
    }
}
