import Capture
import Evaluation
import Imaging
import PlateKeeperCore
import Foundation

/// The labelled images of a folder (as for bench accuracy), decoded one at a time as replay
/// decodes a still: what the commands that cut training samples (`glyph-samples`,
/// `line-samples`) walk, so that both cut from the same images and match rows to plates alike.
struct LabelledFrames {
    let images: [LabelledImage]

    /// Loads the ground truth of `dir` (only the images named in the `list` file, if given);
    /// each unusable ground-truth file is reported and left out.
    init(dir: String, list: String?) throws {
        let truth = GroundTruth.load(folder: dir, list: try list.map(imageNames(inListFile:)))
        for e in truth.errors { Terminal.error(e.description) }
        images = truth.images
    }

    /// Calls `body` with each image that decodes and its frame, under a progress line; an image
    /// that does not decode is skipped.
    func forEach(_ body: (LabelledImage, LumaImage) throws -> Void) throws {
        let source = try ReplaySource()
        for (i, image) in images.enumerated() {
            Terminal.progress(i, of: images.count, label: "images")
            let item = ReplayItem(path: image.imagePath, camera: "samples", sequence: UInt64(i), kind: .still, clockQuality: .fileTime)
            guard let frame = try? source.frame(for: item) else { continue }
            try body(image, frame.image)
        }
        Terminal.progress(images.count, of: images.count, label: "images")
    }

    /// Whether a row found in an image lies on a labelled plate: at least 80 % of its box inside
    /// the plate's box. Any row does for a plate without a box (a plate crop is the plate).
    static func row(_ row: PixelBox, isOn plateBox: PixelBox?) -> Bool {
        guard let plateBox else { return true }
        return plateBox.intersection(row).area * 10 >= row.area * 8
    }
}
