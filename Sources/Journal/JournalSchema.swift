import Foundation
import GRDB
import PlateKeeperCore
import WireFormat

/// The journal's schema and its history, as GRDB migrations applied in place when the daemon opens
/// the file: a unit in the field keeps every read it has not uploaded across an upgrade.
///
/// Each migration runs in one transaction, so a power cut during one leaves the previous version.
/// `PRAGMA user_version` follows the migrations, so that a build can tell a journal written by a
/// newer build (refused, left untouched) from an older one (migrated). Never edit a registered
/// migration: add a new one, and a fixture of the version it starts from in
/// `Tests/JournalTests/Fixtures`.
enum JournalSchema {
    static let version = 5

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        // Version 1 (first release): journals of that build have no grdb_migrations table, so this
        // creates the tables only where they are missing and is merely recorded on such files.
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS read_event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL,
                    camera TEXT NOT NULL,
                    plate TEXT NOT NULL,
                    confidence REAL NOT NULL,
                    region TEXT NOT NULL,
                    candidates TEXT NOT NULL,
                    box_x INTEGER NOT NULL, box_y INTEGER NOT NULL, box_w INTEGER NOT NULL, box_h INTEGER NOT NULL,
                    first_seen_ns INTEGER NOT NULL,
                    last_seen_ns INTEGER NOT NULL,
                    clock_quality TEXT NOT NULL,
                    frame_count INTEGER NOT NULL,
                    best_frame TEXT NOT NULL,
                    latitude REAL, longitude REAL,
                    position TEXT,
                    crop BLOB,
                    journaled_ns INTEGER NOT NULL,
                    upload_state TEXT NOT NULL DEFAULT 'pending',
                    uploaded_ns INTEGER,
                    upload_attempts INTEGER NOT NULL DEFAULT 0,
                    hotlist TEXT,
                    extra TEXT
                );
                CREATE INDEX IF NOT EXISTS read_event_upload ON read_event(upload_state, seq);
                CREATE INDEX IF NOT EXISTS read_event_journaled ON read_event(journaled_ns);
                CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                PRAGMA application_id = \(Journal.applicationID);
                PRAGMA user_version = 1;
                """)
        }
        // Version 2 (upload): the JSON columns take the wire format's spelling (one spelling of a
        // read everywhere); uploads record their last error, and a read the store refused for good
        // is parked as 'dead' with the reason; hits (hotlist set) are uploaded first.
        m.registerMigration("v2-upload") { db in
            try db.execute(sql: """
                ALTER TABLE read_event ADD COLUMN upload_error TEXT;
                DROP INDEX IF EXISTS read_event_upload;
                CREATE INDEX read_event_upload ON read_event(upload_state, hotlist IS NULL, seq);
                """)
            let legacy = JSONDecoder()
            let rows = try Row.fetchCursor(db, sql: "SELECT seq, candidates, position FROM read_event")
            while let row = try rows.next() {
                let seq: Int64 = try row.decode(forColumn: "seq")
                let candidatesText: String = try row.decode(forColumn: "candidates")
                let positionText: String? = try row.decode(forColumn: "position")
                let candidates = try legacy.decode([PlateCandidate].self, from: Data(candidatesText.utf8)).map {
                    WireReadEvent.Candidate(plate: $0.text, confidence: $0.confidence, matchesFormat: $0.matchesFormat)
                }
                let position = try positionText.map { WireReadEvent.Position(try legacy.decode(GeoPosition.self, from: Data($0.utf8))) }
                try db.execute(
                    sql: "UPDATE read_event SET candidates = ?, position = ? WHERE seq = ?",
                    arguments: [
                        String(decoding: try WireCoding.encode(candidates), as: UTF8.self),
                        try position.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) }, seq,
                    ])
            }
            try db.execute(sql: "PRAGMA user_version = 2")
        }
        m.registerMigration("v3-best-seen") { db in
            // The capture time of each event's best frame; rows from before stay NULL (read as first seen).
            try db.execute(sql: """
                ALTER TABLE read_event ADD COLUMN best_seen_ns INTEGER;
                PRAGMA user_version = 3;
                """)
        }
        m.registerMigration("v4-position-status-clock") { db in
            // How each event's position was obtained (or why it has none) and the clock's quality,
            // as wire JSON; rows from before stay NULL (not recorded).
            try db.execute(sql: """
                ALTER TABLE read_event ADD COLUMN position_status TEXT;
                ALTER TABLE read_event ADD COLUMN clock TEXT;
                PRAGMA user_version = 4;
                """)
        }
        m.registerMigration("v5-hotlist-deletion-log") { db in
            // The `hotlist` column (there since version 1, never written before) now holds the
            // wire JSON of the read's hotlist hit. Every retention run that deletes rows appends a
            // line to the deletion log: when, which rule, how many rows, the time range they
            // covered (never the plates). Reads, hits and reads not kept are counted per UTC day
            // and camera for the transparency report, beyond the rows' retention. With encryption
            // at rest, `sealed` holds the plate, candidates and position (AES-GCM) and `key_id`
            // names the key; crop and hit are sealed in their own columns.
            try db.execute(sql: """
                CREATE TABLE deletion_log (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    at_ns INTEGER NOT NULL,
                    rule TEXT NOT NULL,
                    max_age_s REAL NOT NULL,
                    rows INTEGER NOT NULL,
                    first_seen_from_ns INTEGER,
                    last_seen_to_ns INTEGER
                );
                CREATE INDEX read_event_hotlist_journaled ON read_event(hotlist IS NULL, journaled_ns);
                CREATE TABLE daily_count (
                    day TEXT NOT NULL,
                    camera TEXT NOT NULL,
                    reads INTEGER NOT NULL DEFAULT 0,
                    hits INTEGER NOT NULL DEFAULT 0,
                    not_kept INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (day, camera)
                );
                ALTER TABLE read_event ADD COLUMN sealed BLOB;
                ALTER TABLE read_event ADD COLUMN key_id TEXT;
                PRAGMA user_version = 5;
                """)
        }
        return m
    }
}
