import Capture
import Daemon
import Foundation
import Imaging
import PlateKeeperCore
import PlateKeeperTesting
import Testing

/// Capture on real kernel V4L2: each test boots the `vivid` VM of ../shared/v4l2vm once and runs
/// the real `platekeeper` binary inside it against /dev/video*; results come back through the
/// shared working folder. Skipped, with the reason, when the VM cannot boot here.
@Suite("V4L2 on vivid (VM)", .serialized, .enabled(if: VM.available, VM.skipReason))
struct V4L2VMTests {
    @Test("record GREY 640x480 and YUYV 1280x720: sizes, rising timestamps and sequences; replay is bit-exact and catches a changed frame")
    func recordAndReplay() throws {
        let dir = try TemporaryDirectory("pkvm")
        let bin = TestPaths.executable
        let result = try VM.run(in: dir, """
            set -e
            \(bin) cameras --json > cameras.json
            \(bin) cameras > cameras.txt
            \(bin) record --camera /dev/video0 --frames 6 --format GREY --width 640 --height 480 --fps 25 grey
            \(bin) record --camera /dev/video0 --frames 3 --format YUYV --width 1280 --height 720 --fps 12.5 yuyv
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")

        for (folder, format, width, height, count) in [("grey", "GREY", 640, 480, 6), ("yuyv", "YUYV", 1280, 720, 3)] {
            let manifest = try RecordingManifest.parse(Data(contentsOf: URL(fileURLWithPath: dir.file("\(folder)/manifest.json"))), path: folder)
            #expect(manifest.frames.count == count, "\(folder)")
            let times = manifest.frames.compactMap { ISO8601.parse($0.captureTime) }
            #expect(times.count == count && zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "\(folder): capture times rise")
            let sequences = manifest.frames.compactMap(\.sequence)
            #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $0 < $1 }, "\(folder): sequences rise")
            for entry in manifest.frames {
                #expect(entry.pixelFormat == format && entry.width == width && entry.height == height)
                let size = try FileManager.default.attributesOfItem(atPath: dir.file("\(folder)/\(entry.file)"))[.size] as? Int
                #expect(size == PixelFormat(rawValue: format)!.frameBytes(width: width, height: height), "\(entry.file)")
            }
            // Replay on the host reproduces every frame's luma exactly (checked against the manifest's checksums).
            let replay = try runCommand(bin, ["replay", dir.file(folder)])
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stderr.contains("\(count) frames") && replay.stderr.contains("0 failed"), "\(replay.stderr)")
        }
        // A frame changed on disk after recording is reported, not replayed.
        let victim = dir.file("grey/000003.grey")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: victim)))
        bytes[1000] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: victim))
        let tampered = try runCommand(bin, ["replay", dir.file("grey")])
        #expect(tampered.status == 1)
        #expect(tampered.stderr.contains("000003.grey") && tampered.stderr.contains("checksum"))

        let cameras = try String(contentsOfFile: dir.file("cameras.txt"), encoding: .utf8)
        #expect(cameras.contains("/dev/video0: vivid"))
        #expect(cameras.contains("GREY") && cameras.contains("YUYV"))
        #expect(cameras.contains("640x480 @ ") && cameras.contains("brightness = "))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("cameras.json")))) as? [[String: Any]]
        #expect((json?.first?["formats"] as? [[String: Any]])?.contains { $0["fourcc"] as? String == "YUYV" } == true)
    }

    @Test("two cameras at once: busy at start, unplugged mid-stream, the driver gone, frames stopping; each recovers by itself, the other camera unaffected")
    func twoCamerasAndFaults() throws {
        let dir = try TemporaryDirectory("pkvm")
        let bin = TestPaths.executable
        try dir.write("platekeeper.toml", """
            [[cameras]]
            id = "a"
            device = "/dev/video0"
            formats = ["GREY"]
            width = 640
            height = 480
            fps = 25
            stall_timeout = "2s"
            min_char_height = 100
            [[cameras]]
            id = "b"
            device = "/dev/video1"
            formats = ["YUYV"]
            width = 320
            height = 180
            fps = 25
            stall_timeout = "2s"
            min_char_height = 100
            [recognition]
            queue_depth = 1
            [journal]
            path = "/tmp/journal.sqlite"
            [status]
            socket = "/tmp/status.sock"
            """)
        // Each step waits for the state it expects (up to 60 s) instead of sleeping a fixed time: the
        // emulated VM runs at very different speeds on an idle or a loaded machine. `snap NAME COND`
        // keeps taking status snapshots until the shell condition COND holds and leaves the last one
        // in NAME.json either way; the checks below then say what was wrong. `v NAME KEY N` is the
        // Nth camera's value of KEY in a snapshot (the status JSON is compact with sorted keys, and
        // only cameras carry these keys). Plain shell: Python takes 12 s to start in the emulated VM.
        let result = try VM.run(in: dir, devices: 2, """
            v() { grep -o '"'"$2"'":[^,}]*' "$1.json" | sed -n "$3p" | cut -d: -f2 | tr -d '"'; }
            snap() {
              end=$(($(date +%s) + 60))
              while :; do
                \(bin) status --socket /tmp/status.sock --json > "$1.json" 2> /dev/null
                if [ -s "$1.json" ] && eval "$2"; then return; fi
                [ "$(date +%s)" -ge $end ] && return
                sleep 1
              done
            }
            # Another program holds camera a when the daemon starts (EBUSY).
            v4l2-ctl -d /dev/video0 --stream-mmap > /dev/null 2>&1 &
            holder=$!
            sleep 2
            \(bin) run --config platekeeper.toml 2> daemon.log &
            pid=$!
            snap s0 '[ "$(v s0 state 1)" = retrying ] && grep -q busy s0.json && [ "$(v s0 state 2)" = streaming ]'
            kill $holder; wait $holder
            snap s1 '[ "$(v s1 state 1)$(v s1 state 2)" = streamingstreaming ] && [ "$(v s1 frames_received 1)" -gt 20 ] && [ "$(v s1 frames_received 2)" -gt 20 ]'
            # A USB-style disconnect of camera a only (vivid's disconnect control).
            v4l2-ctl -d /dev/video0 -c disconnect=1
            snap s2 '[ "$(v s2 faults 1)" -ge 1 ] && [ "$(v s2 frames_received 2)" -gt "$(v s1 frames_received 2)" ]'
            snap s3 '[ "$(v s3 state 1)" = streaming ] && [ "$(v s3 frames_received 1)" -gt "$(v s2 frames_received 1)" ]'
            # The whole driver goes away (unbind) and comes back (bind).
            echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind
            snap s4 '[ "$(v s4 state 1)$(v s4 state 2)" = retryingretrying ]'
            echo vivid.0 > /sys/bus/platform/drivers/vivid/bind
            snap s5 '[ "$(v s5 state 1)$(v s5 state 2)" = streamingstreaming ] && [ "$(v s5 frames_received 1)" -gt 0 ] && [ "$(v s5 frames_received 2)" -gt 0 ]'
            # Camera b stops delivering frames (vivid drops every buffer), then starts again.
            v4l2-ctl -d /dev/video1 -c percentage_of_dropped_buffers=100
            snap s6 'case "$(v s6 state 2)" in stalled|retrying) true;; *) false;; esac'
            v4l2-ctl -d /dev/video1 -c percentage_of_dropped_buffers=0
            snap s7 '[ "$(v s7 state 2)" = streaming ] && [ "$(v s7 frames_received 2)" -gt "$(v s6 frames_received 2)" ]'
            kill -TERM $pid; wait $pid; echo "exit $?" > exit.txt
            """, timeout: 600)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        func doc(_ name: String) throws -> StatusDocument {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir.file("\(name).json")))
            do { return try StatusDocument.decode(data) } catch {
                throw SnapshotError(description: "\(name).json is not a status document (\(error)): \(String(decoding: data.prefix(400), as: UTF8.self))")
            }
        }
        let log = (try? String(contentsOfFile: dir.file("daemon.log"), encoding: .utf8)) ?? ""
        let s0 = try doc("s0"), s1 = try doc("s1"), s2 = try doc("s2"), s3 = try doc("s3"), s4 = try doc("s4"), s5 = try doc("s5")
        let s6 = try doc("s6"), s7 = try doc("s7")
        #expect(s0.cameras[0].state == "retrying", "camera a busy at start: \(s0.cameras[0])")
        #expect(s0.cameras[0].error?.contains("busy") == true, "\(s0.cameras[0].error ?? "no error")")
        #expect(s0.cameras[1].state == "streaming")
        #expect(s1.cameras.map(\.state) == ["streaming", "streaming"], "\(log)")
        #expect(s1.cameras.allSatisfy { $0.framesReceived > 20 }, "frames arrive from both")
        #expect(s2.cameras[0].faults >= 1, "camera a saw the disconnect: \(s2.cameras[0])")
        #expect(s2.cameras[0].lastFault?.contains("/dev/video0") == true)
        #expect(log.contains("camera failed while streaming; reopening") && log.contains("camera.id=a"))
        #expect(s2.cameras[1].state == "streaming")
        #expect(s2.cameras[1].faults == 0, "camera b never faulted")
        #expect(s2.cameras[1].framesReceived > s1.cameras[1].framesReceived, "camera b unaffected")
        #expect(s3.cameras[0].state == "streaming", "camera a reconnected by itself: \(s3.cameras[0]) \(log)")
        #expect(s3.cameras[0].framesReceived > s2.cameras[0].framesReceived)
        #expect(s4.cameras.allSatisfy { $0.state == "retrying" }, "driver unbound: \(s4.cameras.map(\.state))")
        #expect(s5.cameras.map(\.state) == ["streaming", "streaming"], "driver back: \(s5.cameras) \(log)")
        #expect(s5.cameras.allSatisfy { $0.framesReceived > 0 })
        #expect(s5.journal.healthy)
        #expect(["stalled", "retrying"].contains(s6.cameras[1].state), "camera b without frames: \(s6.cameras[1])")
        #expect(s6.cameras[0].state == "streaming")
        #expect(s7.cameras[1].state == "streaming", "camera b back: \(s7.cameras[1]) \(log)")
        #expect(s7.cameras[1].framesReceived > s6.cameras[1].framesReceived)
        #expect((try? String(contentsOfFile: dir.file("exit.txt"), encoding: .utf8)) == "exit 0\n")
    }

    @Test("loopback: a TestFrames plate fed into the kernel's output device is journaled by `platekeeper run`")
    func loopbackEndToEnd() throws {
        let dir = try TemporaryDirectory("pkvm")
        let bin = TestPaths.executable
        let still = (TestPaths.testFrames as NSString).appendingPathComponent("stills/day-clear.jpg")
        let truth = try String(contentsOfFile: (TestPaths.testFrames as NSString).appendingPathComponent("stills/day-clear.txt"), encoding: .utf8)
        let plate = String(truth.split(separator: "\t").last!.split(separator: "\n")[0])
        let image = try JPEGDecoder().decode([UInt8](Data(contentsOf: URL(fileURLWithPath: still))))
        #expect(image.width == 1280 && image.height == 720)
        // A 640x480 GREY framing of the scene around the plate: small frames keep the emulated VM fast.
        let frame = image.cropped(to: PixelBox(x: 160, y: 200, width: 640, height: 480))
        try dir.write("frame.grey", frame.pixels)
        try dir.write("platekeeper.toml", """
            [[cameras]]
            id = "loop"
            device = "/dev/video0"
            formats = ["GREY"]
            width = 640
            height = 480
            min_char_height = 24
            stall_timeout = "30s"
            # The lane: the middle of the frame (reading the whole frame is slow under emulation).
            roi = [80, 100, 480, 300]
            [recognition]
            queue_depth = 1
            [grouping]
            window = "2s"
            first_sight = true
            first_sight_min_confidence = 60
            [journal]
            path = "/tmp/journal.sqlite"
            [status]
            socket = "/tmp/status.sock"
            """)
        let result = try VM.run(in: dir, loop: true, """
            cp frame.grey /tmp/frame.grey
            for d in /dev/video0 /dev/video1; do v4l2-ctl -d $d --set-dv-bt-timings index=0 > /dev/null; done
            v4l2-ctl -d /dev/video1 --set-fmt-video-out=width=640,height=480,pixelformat=GREY
            v4l2-ctl -d /dev/video1 --stream-out-mmap=8 --stream-from=/tmp/frame.grey --stream-loop > /tmp/out.log 2>&1 &
            out=$!
            n=0; while [ "$(tr -cd ">" < /tmp/out.log | wc -c)" -lt 10 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
            \(bin) run --config platekeeper.toml 2> daemon.log &
            pid=$!
            n=0
            until grep -q "journaled" daemon.log || [ $n -ge 150 ]; do sleep 1; n=$((n+1)); done
            \(bin) status --socket /tmp/status.sock --json > status.json
            kill -TERM $pid; wait $pid; echo "exit $?" > exit.txt
            kill $out
            # The journal lives on the guest's own disk (SQLite's WAL needs real shared memory, not 9p).
            \(bin) journal export --purpose "vm test" --category maintenance --audit-log /tmp/audit.log --journal /tmp/journal.sqlite > events.jsonl
            """, timeout: 400)
        #expect(result.status == 0, "\(result.stderr)")
        let log = (try? String(contentsOfFile: dir.file("daemon.log"), encoding: .utf8)) ?? ""
        let lines = ((try? String(contentsOfFile: dir.file("events.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n")
        let events = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(events.contains { $0["plate"] as? String == plate && $0["camera"] as? String == "loop" },
                "journal: \(events.map { $0["plate"] ?? "?" }); log:\n\(log)")
        #expect((try? String(contentsOfFile: dir.file("exit.txt"), encoding: .utf8)) == "exit 0\n")
    }
}

/// A status snapshot from the VM that could not be read, with what the file held.
struct SnapshotError: Error, CustomStringConvertible {
    let description: String
}

/// The ../shared/v4l2vm tool: whether it can boot here, and running a script inside its VM.
enum VM {
    static let tool: String? = {
        let path = ((TestPaths.repository as NSString).deletingLastPathComponent as NSString).appendingPathComponent("shared/v4l2vm/run-in-vm")
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    /// Boots the VM once to see that it works (cached for the run).
    static let probe: (ok: Bool, reason: String) = {
        if ProcessInfo.processInfo.environment["PLATEKEEPER_SKIP_VM"] != nil { return (false, "PLATEKEEPER_SKIP_VM is set") }
        guard let tool else { return (false, "../shared/v4l2vm/run-in-vm is not there") }
        guard let result = try? runCommand(tool, ["--timeout", "120", "--", "test", "-c", "/dev/video0"]) else {
            return (false, "run-in-vm could not be started")
        }
        return result.status == 0 ? (true, "") : (false, "run-in-vm cannot boot its VM here (exit \(result.status)): \(result.stderr.suffix(300))")
    }()

    static var available: Bool { probe.ok }
    static var skipReason: Comment { Comment(rawValue: "V4L2 VM tests skipped: \(probe.reason)") }

    static func run(in dir: TemporaryDirectory, devices: Int = 1, loop: Bool = false, _ script: String, timeout: Int = 240) throws -> CommandResult {
        try dir.write("vm-script.sh", script)
        var arguments = ["--timeout", String(timeout), "--devices", String(devices)]
        if loop { arguments.append("--loop") }
        arguments += ["--", "sh", "-c", "cd '\(dir.path)' && sh vm-script.sh"]
        return try runCommand(tool!, arguments, workingDirectory: dir.path)
    }
}
