public import Audit
public import Foundation
public import Journal
import PlateKeeperCore

/// The numbers a public transparency report gives about a unit: scans per day and camera, hits
/// per list, retention deletions, read-outs per category and per role. Numbers only: no plate, no
/// position, no time finer than a day, no purpose's words and no reader's name (purposes are for
/// auditors; the public sees categories from the operator's fixed list). As JSON, and as a page with bar charts (inline SVG, no
/// script, no outside resource).
public struct TransparencyReport: Sendable, Codable, Equatable {
    public struct Deletions: Sendable, Codable, Equatable {
        public var day: String
        public var rule: String
        public var runs: Int
        public var rows: Int
        public init(day: String, rule: String, runs: Int, rows: Int) {
            self.day = day
            self.rule = rule
            self.runs = runs
            self.rows = rows
        }
    }
    public struct Count: Sendable, Codable, Equatable {
        public var name: String
        public var count: Int
        public init(name: String, count: Int) {
            self.name = name
            self.count = count
        }
    }

    /// When the report was made (ISO 8601 UTC) and the unit it describes.
    public var generated: String
    public var unit: String
    /// The journal's retention rules, seconds (nil: kept until the quota needs room).
    public var retentionSeconds: Double?
    public var hitRetentionSeconds: Double?
    /// Reads journaled, hits among them, and reads seen but not kept (hotlist-only mode).
    public var scansPerDay: [DailyCount]
    /// Hits held now, per hotlist.
    public var hitsHeldPerList: [Count]
    /// Retention deletions per day and rule.
    public var retentionDeletions: [Deletions]
    /// Audit entries (read-outs of plate data) per category, per reader role and per action.
    /// Entries made before categories existed count as "uncategorised".
    public var auditEntriesPerCategory: [Count]
    public var auditEntriesPerRole: [Count]
    public var auditEntriesPerAction: [Count]
    /// Whether the audit log's chain verified; the reason when it did not (or when there is no log).
    public var auditChainIntact: Bool
    public var auditProblem: String?

    /// A report from figures gathered elsewhere (the central store's tables).
    public init(
        unit: String, retentionSeconds: Double?, hitRetentionSeconds: Double?, scansPerDay: [DailyCount], hitsHeldPerList: [Count],
        retentionDeletions: [Deletions], auditEntriesPerCategory: [Count], auditEntriesPerRole: [Count], auditEntriesPerAction: [Count],
        auditProblem: String?,
        now: Date = Date()
    ) {
        generated = ISO8601.format(unixNanoseconds: Int64(now.timeIntervalSince1970) * 1_000_000_000)
        self.unit = unit
        self.retentionSeconds = retentionSeconds
        self.hitRetentionSeconds = hitRetentionSeconds
        self.scansPerDay = scansPerDay
        self.hitsHeldPerList = hitsHeldPerList
        self.retentionDeletions = retentionDeletions
        self.auditEntriesPerCategory = auditEntriesPerCategory
        self.auditEntriesPerRole = auditEntriesPerRole
        self.auditEntriesPerAction = auditEntriesPerAction
        auditChainIntact = auditProblem == nil
        self.auditProblem = auditProblem
    }

    /// Builds the report from what the journal and the audit log hold: counts only, so it needs no
    /// key to an encrypted journal (`hitsHeldPerList` comes from `Journal.hitsHeldPerList()`).
    /// `audit` nil: no audit log was found, which the report says rather than calling it intact.
    public init(
        unit: String, settings: JournalSettings, daily: [DailyCount], hitsHeldPerList: [String: Int], deletions: [DeletionRecord],
        audit: Result<[AuditEntry], AuditError>?, now: Date = Date()
    ) {
        generated = ISO8601.format(unixNanoseconds: Int64(now.timeIntervalSince1970) * 1_000_000_000)
        self.unit = unit
        retentionSeconds = settings.retentionSeconds
        hitRetentionSeconds = settings.hitRetentionSeconds
        scansPerDay = daily
        self.hitsHeldPerList = hitsHeldPerList.map { Count(name: $0.key, count: $0.value) }
            .sorted { ($1.count, $0.name) < ($0.count, $1.name) }
        var byDay: [String: Deletions] = [:]
        for d in deletions {
            let day = String(ISO8601.format(unixNanoseconds: d.at).prefix(10))
            byDay["\(day) \(d.rule)", default: Deletions(day: day, rule: d.rule, runs: 0, rows: 0)].runs += 1
            byDay["\(day) \(d.rule)"]?.rows += d.rows
        }
        retentionDeletions = byDay.values.sorted { ($0.day, $0.rule) < ($1.day, $1.rule) }
        switch audit {
        case let .success(entries):
            auditEntriesPerCategory = Self.counts(entries.map { $0.category ?? "uncategorised" })
            auditEntriesPerRole = Self.counts(entries.map(\.role))
            auditEntriesPerAction = Self.counts(entries.map(\.action))
            auditChainIntact = true
        case let .failure(error):
            auditEntriesPerCategory = []
            auditEntriesPerRole = []
            auditEntriesPerAction = []
            auditChainIntact = false
            auditProblem = error.description
        case nil:
            auditEntriesPerCategory = []
            auditEntriesPerRole = []
            auditEntriesPerAction = []
            auditChainIntact = false
            auditProblem = "no audit log was found: either nothing was ever read out, or the log was removed; this report cannot tell which"
        }
    }

    static func counts(_ names: [String]) -> [Count] {
        var c: [String: Int] = [:]
        for n in names { c[n, default: 0] += 1 }
        return c.map { Count(name: $0.key, count: $0.value) }.sorted { ($1.count, $0.name) < ($0.count, $1.name) }
    }

    /// The report as one HTML page: tables and bar charts of scans and hits per day.
    /// The report as its reader gets it: the page (`html`) or JSON with snake_case keys.
    public func rendered(html asPage: Bool) throws -> String {
        if asPage { return html() }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    public func html() -> String {
        var days: [String: (reads: Int, hits: Int, notKept: Int)] = [:]
        for d in scansPerDay {
            days[d.day, default: (0, 0, 0)].reads += d.reads
            days[d.day]?.hits += d.hits
            days[d.day]?.notKept += d.notKept
        }
        let ordered = days.keys.sorted()
        func e(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func age(_ s: Double?) -> String { s.map { $0 >= 86_400 ? "\(Int($0 / 86_400)) days" : "\(Int($0 / 60)) minutes" } ?? "until space is needed" }
        func chart(_ title: String, _ values: [(String, Int)]) -> String {
            guard !values.isEmpty else { return "<p>No data.</p>" }
            let top = max(values.map(\.1).max() ?? 1, 1)
            let barWidth = 24, height = 160
            var svg = "<svg role=\"img\" aria-label=\"\(e(title))\" width=\"\(values.count * (barWidth + 6) + 40)\" height=\"\(height + 40)\" xmlns=\"http://www.w3.org/2000/svg\">"
            for (i, (label, v)) in values.enumerated() {
                let h = Int(Double(v) / Double(top) * Double(height))
                let x = 30 + i * (barWidth + 6)
                svg += "<rect x=\"\(x)\" y=\"\(height - h + 10)\" width=\"\(barWidth)\" height=\"\(h)\" fill=\"#3a6ea5\"><title>\(e(label)): \(v)</title></rect>"
                svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(height + 25)\" font-size=\"9\" text-anchor=\"middle\">\(e(String(label.suffix(5))))</text>"
            }
            svg += "<text x=\"0\" y=\"18\" font-size=\"10\">\(top)</text></svg>"
            return "<figure><figcaption>\(e(title))</figcaption>\(svg)</figure>"
        }
        func table(_ head: [String], _ rows: [[String]]) -> String {
            "<table><tr>" + head.map { "<th>\(e($0))</th>" }.joined() + "</tr>"
                + rows.map { "<tr>" + $0.map { "<td>\(e($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
        }
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Transparency report: \(e(unit))</title>
            <style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 8px;text-align:right}</style>
            </head><body>
            <h1>Transparency report: licence plate reader \(e(unit))</h1>
            <p>Generated \(e(generated)). Numbers only: this page holds no plate, position or time finer than a day.</p>
            <h2>Retention</h2>
            <p>Reads that match no hotlist are deleted after \(e(age(retentionSeconds))); hotlist hits after \(e(age(hitRetentionSeconds))).</p>
            <h2>Scans per day</h2>
            """
        page += chart("Reads journaled per day", ordered.map { ($0, days[$0]?.reads ?? 0) })
        page += chart("Hotlist hits per day", ordered.map { ($0, days[$0]?.hits ?? 0) })
        page += table(["day", "camera", "reads", "hits", "seen, not kept"],
                      scansPerDay.map { [$0.day, $0.camera, String($0.reads), String($0.hits), String($0.notKept)] })
        page += "<h2>Hits held now, per list</h2>" + table(["list", "hits"], hitsHeldPerList.map { [$0.name, String($0.count)] })
        page += "<h2>Retention deletions</h2>" + table(["day", "rule", "runs", "rows deleted"],
                                                        retentionDeletions.map { [$0.day, $0.rule, String($0.runs), String($0.rows)] })
        page += "<h2>Access to plate data (audit log)</h2>"
        page += auditChainIntact ? "<p>The audit log's hash chain is intact.</p>" : "<p><strong>The audit log cannot be vouched for: \(e(auditProblem ?? ""))</strong></p>"
        page += table(["category", "read-outs"], auditEntriesPerCategory.map { [$0.name, String($0.count)] })
        page += table(["role", "read-outs"], auditEntriesPerRole.map { [$0.name, String($0.count)] })
        page += table(["action", "entries"], auditEntriesPerAction.map { [$0.name, String($0.count)] })
        page += "</body></html>\n"
        return page
    }
}
