import Config
import EventChain
import Foundation
import Grouping
import Imaging
import Logging
import PlateKeeperCore
import Recognition
import ServiceLifecycle

/// The recognition workers: threads that each own their Tesseract handles (one `PlateReader` per
/// camera setting they meet) and a JPEG encoder for crops, and take frames from the queue.
///
/// On graceful shutdown (after the cameras have stopped) the queue is closed, the workers read
/// what is still queued and stop, and the output stream is finished so the journal drains.
struct RecognitionService: Service, CustomStringConvertible {
    let workers: Int
    let queue: FrameQueue
    let cameras: [CameraID: CameraSection]
    let recognition: RecognitionSection
    let journal: JournalSection
    let status: StatusBoard
    let output: AsyncStream<ChainInput>.Continuation
    let logger: Logger

    var description: String { "recognition (\(workers) workers)" }

    func run() async throws {
        defer { output.finish() }
        // Make every worker's first reader before reporting ready: a missing model fails the start.
        var first: [WorkerState] = []
        for i in 0..<workers {
            let made = await runOnThread(name: "ocr-setup-\(i)") { () -> Result<WorkerState, RecognitionError> in
                do throws(RecognitionError) {
                    let state = try WorkerState(recognition: recognition, journal: journal)
                    if let camera = cameras.values.first { _ = try state.reader(for: camera) }
                    return .success(state)
                } catch {
                    return .failure(error)
                }
            }
            do {
                first.append(try made.get())
            } catch {
                // A missing or unreadable model or tessdata: restarting will not help.
                throw Daemon.StartupFailure(stage: "recognition", reason: error.description)
            }
        }
        status.recognitionIsReady()
        let states = first
        await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for (i, state) in states.enumerated() {
                    group.addTask {
                        await runOnThread(name: "ocr-\(i)") { self.work(index: i, state: state) }
                    }
                }
            }
        } onCancelOrGracefulShutdown: {
            queue.close()
        }
        logger.info("recognition drained")
    }

    private func work(index: Int, state: WorkerState) {
        let heart = "worker-\(index)"
        while true {
            status.beat(heart)
            switch queue.take(timeout: 0.5) {
            case .closed:
                return
            case .timedOut:
                continue
            case let .frame(frame):
                guard let camera = cameras[frame.camera] else { continue }
                var observations: [Observation] = []
                let started = Clocks.monotonicSeconds()
                var seconds = 0.0
                do {
                    let reader = try state.reader(for: camera)
                    let failuresBefore = reader.detectorFailures
                    let reads = reader.read(frame.image, regionOfInterest: camera.regionOfInterest)
                    seconds = Clocks.monotonicSeconds() - started
                    if reader.detectorFailures > failuresBefore, let board = status.camera(frame.camera) {
                        let error = reader.lastDetectorFailure ?? "unknown error"
                        board.detectorFailed(frames: reader.detectorFailures - failuresBefore, error: error)
                        // The first failure and then one in a thousand: a broken model fails on every frame.
                        let count = board.detectorFailures.count
                        if count == 1 || count % 1000 == 0 {
                            logger.warning("plate detector failed; the frame was searched by the row finder alone", metadata: [
                                "camera.id": "\(frame.camera)", "frame.seq": "\(frame.sequence)", "failures": "\(count)", "error": "\(error)",
                            ])
                        }
                    }
                    for read in reads {
                        let crop = journal.keepCrops ? state.crop(read.box, of: frame.image, quality: journal.cropQuality) : nil
                        observations.append(Observation(
                            camera: frame.camera, frameName: "\(frame.camera)#\(frame.sequence)", time: frame.captureTime,
                            read: read, crop: crop))
                    }
                } catch {
                    logger.error("recognition failed", metadata: ["camera.id": "\(frame.camera)", "frame.seq": "\(frame.sequence)", "error": "\(error)"])
                }
                if !observations.isEmpty {
                    // Counts only: no log level carries a plate (in hotlist-only mode a non-hit's
                    // plate must reach no disk, and the system journal is one).
                    logger.debug("plates read", metadata: [
                        "camera.id": "\(frame.camera)", "frame.seq": "\(frame.sequence)", "plates": "\(observations.count)",
                    ])
                }
                output.yield(.frame(camera: frame.camera, time: frame.captureTime, observations: observations))
                status.camera(frame.camera)?.processed(plates: observations.count, seconds: seconds)
                queue.finished(frame) { output.yield(.drained(camera: $0)) }
            }
        }
    }
}

/// One worker's C handles: plate readers (Tesseract) per camera setting, and a JPEG encoder.
/// Used by exactly one thread at a time; freed with the worker.
final class WorkerState: @unchecked Sendable {
    private struct Key: Hashable {
        var region: String
        var minCharHeight: Int
        var skipCutPlates: Bool
    }

    private var readers: [Key: PlateReader] = [:]
    private let encoder: JPEGEncoder?
    private let recognition: RecognitionSection

    init(recognition: RecognitionSection, journal: JournalSection) throws(RecognitionError) {
        self.recognition = recognition
        encoder = journal.keepCrops ? try? JPEGEncoder() : nil
    }

    func reader(for camera: CameraSection) throws(RecognitionError) -> PlateReader {
        let key = Key(region: camera.region, minCharHeight: camera.minCharacterHeight, skipCutPlates: camera.skipCutPlates)
        if let reader = readers[key] { return reader }
        var settings = PlateReader.Settings()
        settings.format = PlateFormat.named(camera.region) ?? .us
        settings.topN = recognition.topN
        settings.minConfidence = recognition.minConfidence
        settings.minCharHeight = Double(camera.minCharacterHeight)
        settings.skipsPlatesCutByFrame = camera.skipCutPlates
        settings.glyphModelPath = recognition.glyphModel.isEmpty ? nil : recognition.glyphModel
        settings.glyphGate = recognition.glyphGate
        settings.glyphVoteWeight = recognition.glyphWeight
        settings.locator = PlateReader.Locator(rawValue: recognition.locator.rawValue) ?? .detector
        settings.detectorModelPath = recognition.detectorModel.isEmpty ? nil : recognition.detectorModel
        settings.plateOCRModelPath = recognition.plateOCRModel.isEmpty ? nil : recognition.plateOCRModel
        settings.plateOCRWeight = recognition.plateOCRWeight
        let reader = try PlateReader(settings: settings, tessdataPath: recognition.tessdata.isEmpty ? nil : recognition.tessdata)
        readers[key] = reader
        return reader
    }

    /// The plate with a margin, as JPEG.
    func crop(_ box: PixelBox, of image: LumaImage, quality: Int) -> [UInt8]? {
        guard let encoder else { return nil }
        let margin = max(4, box.height / 2)
        let region = box.expanded(dx: margin, dy: margin / 2 + 2).clipped(toWidth: image.width, height: image.height)
        let cropped = image.cropped(to: region)
        guard cropped.width > 0, cropped.height > 0 else { return nil }
        return try? encoder.encode(cropped, quality: quality)
    }
}
