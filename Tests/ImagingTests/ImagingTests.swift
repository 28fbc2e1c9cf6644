import Imaging
import PlateKeeperCore
import Testing

/// A gradient with a dark square, so that decoding errors show up as pixel differences.
func testImage(width: Int = 64, height: Int = 48) -> LumaImage {
    var image = LumaImage(width: width, height: height)
    for y in 0..<height {
        for x in 0..<width {
            image[x, y] = (x > 20 && x < 40 && y > 10 && y < 30) ? 20 : UInt8(100 + (x + y) % 120)
        }
    }
    return image
}

@Suite struct JPEGTests {
    @Test func roundTripKeepsSizeAndContent() throws {
        let image = testImage()
        let jpeg = try JPEGEncoder().encode(image, quality: 95)
        let decoded = try JPEGDecoder().decode(jpeg)
        #expect(decoded.width == image.width && decoded.height == image.height)
        let maxError = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max()!
        #expect(maxError < 24)
    }

    @Test func truncatedJPEGIsCorruptNotGrey() throws {
        let jpeg = try JPEGEncoder().encode(testImage(width: 320, height: 240), quality: 90)
        #expect(throws: ImagingError.self) { try JPEGDecoder().decode(Array(jpeg.prefix(jpeg.count / 2))) }
        do {
            _ = try JPEGDecoder().decode(Array(jpeg.prefix(jpeg.count / 2)))
        } catch {
            #expect(error.code == .corrupt)
            #expect(error.call == "tjDecompress2")
        }
    }

    @Test func garbageAfterSOIIsCorrupt() {
        #expect(throws: ImagingError.self) { try JPEGDecoder().decode([0xFF, 0xD8, 0x01, 0x02, 0x03]) }
    }

    @Test func notAJPEG() {
        do {
            _ = try JPEGDecoder().decode(Array("hello world".utf8))
            Issue.record("decoded text as JPEG")
        } catch {
            #expect(error.code == .unsupportedFormat)
        }
    }
}

@Suite struct LeptonicaTests {
    @Test func pixRoundTripIsExact() throws {
        let image = testImage(width: 37, height: 11) // odd width: exercises the word padding
        let pix = try LeptonicaPix(image)
        #expect(try pix.luma() == image)
    }

    @Test func pngDecodesExactly() throws {
        let image = testImage()
        let png = try LeptonicaPix(image).pngData()
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(try ImageFileDecoder().decode(png) == image)
    }

    @Test func truncatedPNGIsAnError() throws {
        let png = try LeptonicaPix(testImage()).pngData()
        #expect(throws: ImagingError.self) { try ImageFileDecoder().decode(Array(png.prefix(40))) }
    }

    @Test func unknownBytesAreUnsupported() {
        do {
            _ = try ImageFileDecoder().decode([1, 2, 3, 4, 5, 6])
            Issue.record("decoded garbage")
        } catch {
            #expect(error.code == .unsupportedFormat)
        }
    }
}

@Suite struct RawFrameTests {
    @Test func greyIsTakenAsIs() throws {
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6]
        #expect(try RawFrame.luma(bytes, format: .grey, width: 3, height: 2).pixels == bytes)
    }

    @Test func yuyvKeepsTheYBytes() throws {
        // Y0 U Y1 V for a 2x2 frame.
        let bytes: [UInt8] = [10, 128, 20, 128, 30, 100, 40, 150]
        let image = try RawFrame.luma(bytes, format: .yuyv, width: 2, height: 2)
        #expect(image.pixels == [10, 20, 30, 40])
    }

    @Test(arguments: [(PixelFormat.grey, 5), (.grey, 7), (.yuyv, 6), (.yuyv, 0)])
    func wrongSizeIsRejected(format: PixelFormat, count: Int) {
        do {
            _ = try RawFrame.luma([UInt8](repeating: 0, count: count), format: format, width: 3, height: 2)
            Issue.record("accepted \(count) bytes")
        } catch {
            #expect(error.code == .wrongSize)
            #expect(error.message.contains("needs"))
        }
    }

    @Test func mjpegFrameOfTheWrongSizeIsRejected() throws {
        let jpeg = try JPEGEncoder().encode(testImage())
        #expect(throws: ImagingError.self) { try ImageFileDecoder().decodeFrame(jpeg, format: .mjpeg, width: 640, height: 480) }
        #expect(try ImageFileDecoder().decodeFrame(jpeg, format: .mjpeg, width: 64, height: 48).width == 64)
    }
}
