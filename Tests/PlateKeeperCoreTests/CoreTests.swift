import PlateKeeperCore
import Testing

@Suite struct ISO8601Tests {
    @Test func formatsKnownInstants() {
        #expect(ISO8601.format(unixNanoseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ISO8601.format(unixNanoseconds: 1_795_784_701_250_000_000) == "2026-11-27T13:05:01.250Z")
        // Leap day and a time before the epoch.
        #expect(ISO8601.format(unixNanoseconds: 951_782_400_000_000_000) == "2000-02-29T00:00:00.000Z")
        #expect(ISO8601.format(unixNanoseconds: -1_000_000) == "1969-12-31T23:59:59.999Z")
    }

    @Test(arguments: [
        "2026-11-27T09:45:01.250Z", "2000-02-29T00:00:00.000Z", "1999-12-31T23:59:59.999Z", "2038-01-19T03:14:08.000Z",
    ])
    func roundTrips(_ text: String) throws {
        let ns = try #require(ISO8601.parse(text))
        #expect(ISO8601.format(unixNanoseconds: ns) == text)
    }

    @Test func parsesOffsetsAndFractions() {
        #expect(ISO8601.parse("2026-11-27T10:45:01+01:00") == ISO8601.parse("2026-11-27T09:45:01Z"))
        #expect(ISO8601.parse("2026-11-27T09:45:01.123456789Z")! % 1_000_000_000 == 123_456_789)
    }

    @Test(arguments: [
        "", "yesterday", "2026-11-27", "2026-13-01T00:00:00Z", "2026-11-27T25:00:00Z", "2026-11-27T09:45:01",
        "2026-11-27T09:45:01.Z", "2026-11-27T09:45:01Zjunk", "2026-11-27T09:45:01+0100",
        "2999-01-01T00:00:00Z", "0001-01-01T00:00:00Z",  // beyond 64-bit nanoseconds: rejected, not a crash
    ])
    func rejectsMalformedTimes(_ text: String) {
        #expect(ISO8601.parse(text) == nil)
    }
}

@Suite struct GeometryTests {
    @Test func intersectionAndIoU() {
        let a = PixelBox(x: 0, y: 0, width: 10, height: 10)
        let b = PixelBox(x: 5, y: 5, width: 10, height: 10)
        #expect(a.intersection(b) == PixelBox(x: 5, y: 5, width: 5, height: 5))
        #expect(abs(a.iou(b) - 25.0 / 175.0) < 1e-9)
        #expect(a.iou(PixelBox(x: 20, y: 20, width: 3, height: 3)) == 0)
        #expect(a.union(b) == PixelBox(x: 0, y: 0, width: 15, height: 15))
    }

    @Test func clippingAndCropping() {
        var image = LumaImage(width: 4, height: 3)
        for y in 0..<3 { for x in 0..<4 { image[x, y] = UInt8(y * 4 + x) } }
        let crop = image.cropped(to: PixelBox(x: 2, y: 1, width: 5, height: 5))
        #expect(crop.width == 2 && crop.height == 2)
        #expect(crop.pixels == [6, 7, 10, 11])
        #expect(image.cropped(to: PixelBox(x: 10, y: 10, width: 2, height: 2)).pixels.isEmpty)
    }

    @Test func rawFrameSizes() {
        #expect(PixelFormat.grey.frameBytes(width: 640, height: 480) == 307_200)
        #expect(PixelFormat.yuyv.frameBytes(width: 640, height: 480) == 614_400)
        #expect(PixelFormat.mjpeg.frameBytes(width: 640, height: 480) == nil)
    }
}

@Suite struct PrintableTests {
    @Test("control characters are escaped, letters of every script kept; newlines kept only when asked")
    func escapes() {
        #expect(Printable.escaped("lane-1 Zürich 東京") == "lane-1 Zürich 東京")
        #expect(Printable.escaped("a\nb\r\t\u{1B}[31m\u{7F}\u{85}") == "a\\nb\\r\\t\\u{1B}[31m\\u{7F}\\u{85}")
        #expect(Printable.escaped("a\nb\u{1B}", keepingNewlines: true) == "a\nb\\u{1B}")
    }
}
