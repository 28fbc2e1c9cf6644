public import PlateKeeperCore
import Foundation

/// The labelled plates of one image.
public struct LabelledImage: Sendable, Equatable {
    public var imagePath: String
    /// Plates with boxes (photo sets) or without (plate crops).
    public var plates: [(text: String, box: PixelBox?)]

    public init(imagePath: String, plates: [(text: String, box: PixelBox?)]) {
        self.imagePath = imagePath
        self.plates = plates
    }

    public static func == (a: LabelledImage, b: LabelledImage) -> Bool {
        a.imagePath == b.imagePath && a.plates.count == b.plates.count
            && zip(a.plates, b.plates).allSatisfy { $0.text == $1.text && $0.box == $1.box }
    }
}

/// A ground-truth file that could not be used, and why.
public struct GroundTruthError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String
    public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Reads ground truth in the layout of the openalpr benchmarks:
/// `NAME.txt` beside `NAME.jpg` with tab-separated `NAME.jpg x y w h PLATE` lines, or a
/// plate-crops folder with `groundtruth.csv` (`FILE,state,PLATE`).
public enum GroundTruth {
    public static func load(folder: String, list: [String]? = nil) -> (images: [LabelledImage], errors: [GroundTruthError]) {
        let csv = (folder as NSString).appendingPathComponent("groundtruth.csv")
        var result: (images: [LabelledImage], errors: [GroundTruthError])
        if FileManager.default.fileExists(atPath: csv) {
            result = loadCSV(csv, folder: folder)
        } else {
            result = loadTextFiles(folder)
        }
        if let list {
            let wanted = Set(list.map { ($0 as NSString).lastPathComponent })
            result.images = result.images.filter { wanted.contains(($0.imagePath as NSString).lastPathComponent) }
        }
        return result
    }

    static func loadCSV(_ path: String, folder: String) -> ([LabelledImage], [GroundTruthError]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return ([], [GroundTruthError(path: path, message: "cannot read")])
        }
        var images: [LabelledImage] = []
        var errors: [GroundTruthError] = []
        for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 3, !fields[0].isEmpty, !fields[2].isEmpty else {
                errors.append(GroundTruthError(path: path, line: i + 1, message: "expected FILE,state,PLATE"))
                continue
            }
            images.append(LabelledImage(imagePath: (folder as NSString).appendingPathComponent(fields[0]),
                                        plates: [(normalise(fields[2]), nil)]))
        }
        return (images, errors)
    }

    static func loadTextFiles(_ folder: String) -> ([LabelledImage], [GroundTruthError]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            return ([], [GroundTruthError(path: folder, message: "cannot list folder")])
        }
        var images: [LabelledImage] = []
        var errors: [GroundTruthError] = []
        for name in names.sorted() where name.hasSuffix(".txt") {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                errors.append(GroundTruthError(path: path, message: "cannot read"))
                continue
            }
            var byImage: [String: [(String, PixelBox?)]] = [:]
            var order: [String] = []
            for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() where !line.allSatisfy(\.isWhitespace) {
                let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
                guard f.count >= 6, let x = Int(f[1]), let y = Int(f[2]), let w = Int(f[3]), let h = Int(f[4]), w > 0, h > 0 else {
                    errors.append(GroundTruthError(path: path, line: i + 1, message: "expected NAME x y width height PLATE"))
                    continue
                }
                let image = String(f[0])
                if byImage[image] == nil { order.append(image) }
                byImage[image, default: []].append((normalise(f[5...].joined()), PixelBox(x: x, y: y, width: w, height: h)))
            }
            for image in order {
                images.append(LabelledImage(imagePath: (folder as NSString).appendingPathComponent(image), plates: byImage[image]!))
            }
        }
        return (images, errors)
    }

    /// Upper case, letters and digits only.
    public static func normalise(_ s: String) -> String {
        String(s.uppercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) })
    }
}
