import ArgumentParser
import Capture
import Foundation
import Hotlist
import PlateKeeperCore

/// `platekeeper bench hotlist`: how long matching a read against a large hotlist takes, exact
/// (tolerance 0, a hash lookup) against tolerant (the banded edit-distance scan), in one process,
/// and what the index costs in memory.
struct HotlistBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hotlist", abstract: "Hotlist matching time per read, exact against tolerant, and the index's memory.")

    @Option(help: "Entries in the synthetic hotlist (random 6- and 7-character plates, seeded).")
    var entries = 1_000_000

    @Option(help: "Reads to match: half one edit away from an entry, half matching nothing.")
    var reads = 2000

    @Option(help: "The tolerant run's max_edit_distance (1 or 2).")
    var tolerance = 1

    func validate() throws {
        try require(entries, in: 1...HotlistFile.maxEntries, "--entries")
        try require(reads, in: 1...1_000_000, "--reads")
        try require(tolerance, in: 1...2, "--tolerance")
    }

    func run() {
        var rng = SeededRandom(seed: 15)
        let alphabet = Array("ABCDEFGHJKLMNPRSTUVWXYZ0123456789".utf8)
        func plate(_ length: Int) -> [UInt8] { (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] } }
        let list = (0..<entries).map { i in
            HotlistEntry(plate: String(decoding: plate(6 + Int(rng.next() % 2)), as: UTF8.self), list: i % 10 == 0 ? "stolen" : "wanted", reason: "")
        }
        var probes: [String] = []
        for i in 0..<reads {
            if i % 2 == 0 {
                var p = Array(list[Int(rng.next() % UInt64(list.count))].plate.utf8)
                p[Int(rng.next() % UInt64(p.count))] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                probes.append(String(decoding: p, as: UTF8.self))
            } else {
                probes.append(String(decoding: plate(7), as: UTF8.self))
            }
        }
        let before = Self.residentBytes()
        let start = SystemClock.monotonic()
        let exact = Hotlist(entries: list, maxEditDistance: 0)
        let tolerant = Hotlist(entries: list, maxEditDistance: tolerance)
        let buildSeconds = (SystemClock.monotonic() - start) / 2
        let indexBytes = max(0, Self.residentBytes() - before) / 2
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        var times: [String: [Double]] = ["exact": [], "tolerant": []]
        var hits: [String: Int] = ["exact": 0, "tolerant": 0]
        // Interleaved, so drift on a shared machine hits both alike.
        for probe in probes {
            for (name, list) in [("exact", exact), ("tolerant", tolerant)] {
                let t = SystemClock.monotonic()
                let hit = list.match(plate: probe, now: now)
                times[name]?.append(SystemClock.monotonic() - t)
                if hit != nil { hits[name, default: 0] += 1 }
            }
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        func p99(_ v: [Double]) -> Double { let s = v.sorted(); return s[min(s.count - 1, s.count * 99 / 100)] }
        print("hotlist: \(entries) entries, built in \(String(format: "%.2f", buildSeconds)) s, index about \(indexBytes >> 20) MiB resident")
        for name in ["exact", "tolerant"] {
            let v = times[name] ?? []
            print(String(format: "%@ (max_edit_distance %d): median %.1f µs, p99 %.1f µs per read; %d of %d reads hit",
                         name, name == "exact" ? 0 : tolerance, median(v) * 1e6, p99(v) * 1e6, hits[name] ?? 0, reads))
        }
        print(String(format: "tolerant / exact, median: %.1f×", median(times["tolerant"] ?? [1]) / max(median(times["exact"] ?? [1]), 1e-9)))
    }

    /// This process's resident set, bytes (/proc/self/statm).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }
}
