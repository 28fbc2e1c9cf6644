public import Foundation
public import PlateKeeperCore
import WireFormat

/// A store stand-in on a real HTTP server: it speaks the contract (gzip batches, replies by id),
/// remembers every id it stored and how often each arrived, and plays scripted faults first.
// `server` is set once, in init, before any request can arrive.
public final class ScriptedStore: @unchecked Sendable {
    public struct State: Sendable {
        public var stored: [UUID: Int] = [:]
        public var requests = 0
        public var faults: [TestHTTPServer.Action] = []
        /// Faults that come after the store has committed the batch (the acknowledgement is lost).
        public var faultsAfterCommit: [TestHTTPServer.Action] = []
        public var tokens: [String] = []
        public var encodings: [String] = []
        public var requestTimes: [Date] = []
    }

    public let state = Locked(State())
    public let token: Locked<String>
    /// Plates the store refuses (a poison read); `nameThem` says whether the 422 names the reads.
    let poison: Set<String>
    let nameThem: Bool
    public private(set) var server: TestHTTPServer!

    public init(port: UInt16? = nil, token: String = "unit-secret", poison: Set<String> = [], nameThem: Bool = false) throws {
        self.token = Locked(token)
        self.poison = poison
        self.nameThem = nameThem
        server = try TestHTTPServer(port: port ?? 0) { [unowned self] request in self.handle(request) }
    }

    public var url: String { server.url + "/v1/reads" }
    public var storedIDs: Set<UUID> { Set(state.withLock { $0.stored.keys }) }

    public func script(_ faults: [TestHTTPServer.Action], afterCommit: [TestHTTPServer.Action] = []) {
        state.withLock {
            $0.faults = faults
            $0.faultsAfterCommit = afterCommit
        }
    }

    public func handle(_ request: TestHTTPServer.Request) -> TestHTTPServer.Action {
        let fault: TestHTTPServer.Action? = state.withLock { s in
            s.requests += 1
            s.requestTimes.append(Date())
            s.tokens.append(request.headers["authorization"] ?? "")
            s.encodings.append(request.headers["content-encoding"] ?? "")
            return s.faults.isEmpty ? nil : s.faults.removeFirst()
        }
        if let fault { return fault }
        guard request.headers["authorization"] == "Bearer \(token.withLock { $0 })" else {
            return .reply(status: 401, body: Data(#"{"error":"unknown token"}"#.utf8))
        }
        guard let body = try? Gzip.decompress(request.body, limit: 1 << 26),
              let batch = try? WireCoding.decode(UploadBatch.self, from: body)
        else { return .reply(status: 400, body: Data(#"{"error":"not a gzip JSON batch"}"#.utf8)) }
        let bad = batch.events.filter { poison.contains($0.plate) }
        if !bad.isEmpty {
            let problem = WireProblem(error: "invalid read", rejected: nameThem ? bad.map { .init(id: $0.id, reason: "plate: poison") } : nil)
            return .reply(status: 422, body: try! WireCoding.encode(problem))
        }
        let after: TestHTTPServer.Action? = state.withLock { s in
            for e in batch.events { s.stored[e.id, default: 0] += 1 }
            return s.faultsAfterCommit.isEmpty ? nil : s.faultsAfterCommit.removeFirst()
        }
        if let after { return after }
        let reply = UploadReply(batch: batch.batch, accepted: batch.events.map(\.id))
        return .reply(status: 200, headers: [("Content-Type", "application/json")], body: try! WireCoding.encode(reply))
    }
}

