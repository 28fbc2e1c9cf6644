private import CTesseract
private import CLeptonica
public import Imaging
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One symbol Tesseract read, with its alternatives.
public struct OCRSymbol: Sendable, Equatable {
    /// Alternatives for this position, best first; the first is what Tesseract chose.
    public var choices: [(text: String, confidence: Double)]
    /// Left and right edge of the symbol in the OCR image, pixels.
    public var left: Int
    public var right: Int

    public var best: String { choices.first?.text ?? "" }
    public var confidence: Double { choices.first?.confidence ?? 0 }

    public static func == (a: OCRSymbol, b: OCRSymbol) -> Bool {
        a.left == b.left && a.right == b.right && a.choices.count == b.choices.count
            && zip(a.choices, b.choices).allSatisfy { $0.text == $1.text && $0.confidence == $1.confidence }
    }
}

/// Owns one Tesseract `TessBaseAPI`, set up for single-line plate text; ended and freed in `deinit`.
///
/// Creating one costs about 100 ms and tens of MiB, so a worker makes one and keeps it for its
/// lifetime. TessBaseAPI is not thread-safe: an engine must stay with one thread of work.
/// Tesseract's OpenMP threads spin on a busy core, so processes using it should run with
/// `OMP_THREAD_LIMIT=1` (the `platekeeper` executable makes sure of it).
public final class TesseractEngine {
    private let handle: OpaquePointer

    /// - Parameters:
    ///   - language: one traineddata name (`eng` from Debian's tesseract-ocr-eng).
    ///   - dataPath: the tessdata folder; nil for `TESSDATA_PREFIX` or else Debian's folder.
    ///   - whitelist: the characters Tesseract may output.
    public convenience init(language: String = "eng", dataPath: String? = nil,
                            whitelist: String = TesseractEngine.plateCharacters) throws(RecognitionError) {
        // Tesseract's own search for the file, done here: the model is handed over from memory.
        let folder = dataPath ?? getenv("TESSDATA_PREFIX").map { String(cString: $0) } ?? Self.defaultDataPath
        let file = folder.hasSuffix("/") ? "\(folder)\(language).traineddata" : "\(folder)/\(language).traineddata"
        try self.init(file: file, language: language, whitelist: whitelist,
                      hint: dataPath == nil ? " (is tesseract-ocr-\(language) installed?)" : "")
    }

    /// An engine for the model in `modelFile` (`NAME.traineddata`, anywhere).
    public convenience init(modelFile: String) throws(RecognitionError) {
        let name = (modelFile as NSString).lastPathComponent
        guard name.hasSuffix(".traineddata"), name.count > ".traineddata".count else {
            throw RecognitionError(call: "TesseractEngine", "\(modelFile): a model file's name must end in .traineddata")
        }
        try self.init(file: modelFile, language: String(name.dropLast(".traineddata".count)),
                      whitelist: Self.plateCharacters, hint: "")
    }

    /// `hint`: said after a failure to load; the Debian package to install only when the model
    /// was looked for in the package's folder, not for a file the operator named.
    private init(file: String, language: String, whitelist: String, hint: String) throws(RecognitionError) {
        // Plates are not words: no word dictionary (3.7 MB of `eng`, loaded into memory whole).
        let data: [UInt8]
        do {
            data = try Traineddata.load(file, dropping: [.lstmWordDawg])
        } catch {
            throw RecognitionError(call: error.call, "cannot load '\(language)' traineddata: \(error.message)\(hint)")
        }
        guard let h = TessBaseAPICreate() else { throw RecognitionError(call: "TessBaseAPICreate", "returned NULL") }
        let rc: Int32 = data.withUnsafeBytes { raw in
            raw.withMemoryRebound(to: CChar.self) { bytes in
                TessBaseAPIInit5(h, bytes.baseAddress, Int32(bytes.count), language, OEM_LSTM_ONLY, nil, 0, nil, nil, 0, 0)
            }
        }
        guard rc == 0 else {
            TessBaseAPIDelete(h)
            throw RecognitionError(call: "TessBaseAPIInit5", "Tesseract rejected '\(language)' traineddata from \(file)\(hint)")
        }
        handle = h
        TessBaseAPISetPageSegMode(h, PSM_SINGLE_LINE)
        _ = TessBaseAPISetVariable(h, "tessedit_char_whitelist", whitelist)
        // Ask the LSTM decoder for per-symbol alternatives (read through the choice iterator).
        _ = TessBaseAPISetVariable(h, "lstm_choice_mode", "2")
        _ = TessBaseAPISetVariable(h, "debug_file", "/dev/null")
    }

    /// The characters plates are read in (Tesseract's whitelist unless told otherwise).
    public static let plateCharacters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

    /// Where Debian's tesseract-ocr packages put traineddata (Tesseract's built-in default).
    static let defaultDataPath = "/usr/share/tesseract-ocr/5/tessdata"

    deinit {
        TessBaseAPIEnd(handle)
        TessBaseAPIDelete(handle)
    }

    /// Reads one line of text from an 8-bit image.
    public func readLine(_ pix: LeptonicaPix) -> [OCRSymbol] {
        pix.withUnsafePix { raw in
            TessBaseAPISetImage2(handle, UnsafeMutablePointer<Pix>(raw))
        }
        TessBaseAPISetSourceResolution(handle, 300)
        defer { TessBaseAPIClear(handle) }
        guard TessBaseAPIRecognize(handle, nil) == 0, let it = TessBaseAPIGetIterator(handle) else { return [] }
        defer { TessResultIteratorDelete(it) }
        var symbols: [OCRSymbol] = []
        repeat {
            guard let textPtr = TessResultIteratorGetUTF8Text(it, RIL_SYMBOL) else { continue }
            let text = String(cString: textPtr)
            TessDeleteText(textPtr)
            var choices: [(String, Double)] = [(text, Double(TessResultIteratorConfidence(it, RIL_SYMBOL)))]
            if let ci = TessResultIteratorGetChoiceIterator(it) {
                repeat {
                    if let c = TessChoiceIteratorGetUTF8Text(ci) {
                        let alt = String(cString: c)
                        let conf = Double(TessChoiceIteratorConfidence(ci))
                        if let i = choices.firstIndex(where: { $0.0 == alt }) {
                            choices[i].1 = max(choices[i].1, conf)
                        } else {
                            choices.append((alt, conf))
                        }
                    }
                } while TessChoiceIteratorNext(ci) != 0
                TessChoiceIteratorDelete(ci)
            }
            var l: Int32 = 0, t: Int32 = 0, r: Int32 = 0, b: Int32 = 0
            _ = TessPageIteratorBoundingBox(TessResultIteratorGetPageIteratorConst(it), RIL_SYMBOL, &l, &t, &r, &b)
            let first = choices[0]
            let rest = choices.dropFirst().sorted { $0.1 > $1.1 }
            symbols.append(OCRSymbol(choices: [first] + rest, left: Int(l), right: Int(r)))
        } while TessResultIteratorNext(it, RIL_SYMBOL) != 0
        return symbols
    }
}
