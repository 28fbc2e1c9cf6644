public import Foundation
import PlateKeeperCore

/// The body of an upload POST as the store receives it, turned into a batch under the contract's
/// bounds: the encoding is checked, gzip is inflated no further than `WireLimits.maxBody`, the
/// events are counted from the JSON's structure before anything is decoded, and the envelope is
/// validated. Events are left to `WireReadEvent.validate()`, so that one bad read can be named.
///
/// It lives beside the contract, not in the store, so that the unit's fuzz target (`upload`)
/// drives the very code that faces the network.
public enum UploadRequest {
    /// Why a body was refused, with the HTTP status the contract gives each kind.
    public enum Refusal: Error, Equatable, CustomStringConvertible {
        /// 413: too many bytes after inflating, or too many events.
        case tooLarge(String)
        /// 415: a Content-Encoding other than gzip or identity.
        case unsupportedEncoding(String)
        /// 400: not gzip, not JSON, or JSON that is not an upload batch.
        case malformed(String)

        public var description: String {
            switch self {
            case .tooLarge(let s), .unsupportedEncoding(let s), .malformed(let s): s
            }
        }
    }

    /// Decodes `body` sent with `contentEncoding` (nil for none). The body's size as sent is the
    /// caller's to bound (`WireLimits.maxCompressedBody`) while it is being received.
    public static func decode(_ body: Data, contentEncoding: String?) throws(Refusal) -> UploadBatch {
        var data = body
        switch contentEncoding?.lowercased() {
        case nil, "identity":
            if data.count > WireLimits.maxBody { throw .tooLarge("body larger than \(WireLimits.maxBody) bytes") }
        case "gzip":
            do {
                data = try Gzip.decompress(data, limit: WireLimits.maxBody)
            } catch .tooLarge {
                throw .tooLarge("body inflates to more than \(WireLimits.maxBody) bytes")
            } catch {
                throw .malformed("body is not valid gzip: \(error)")
            }
        case let other?:
            throw .unsupportedEncoding("Content-Encoding \(Printable.escaped(String(other.prefix(32)))) is not supported; use gzip")
        }
        // Counted before anything is decoded: a batch of too many events costs a walk, not a decode.
        if countEvents(data) > WireLimits.maxEventsPerBatch {
            throw .tooLarge("more than \(WireLimits.maxEventsPerBatch) events")
        }
        do {
            let batch = try WireCoding.decode(UploadBatch.self, from: data)
            try batch.validateEnvelope()
            return batch
        } catch .invalid(field: "events", let reason) {
            throw .tooLarge("events: \(reason)")
        } catch {
            throw .malformed(error.description)
        }
    }

    /// The number of elements of the top-level `events` array, counted up to one past the limit;
    /// 0 for a document of another shape (the decoder then names what is wrong).
    static func countEvents(_ data: Data) -> Int {
        struct TooMany: Error {}
        var scanner = JSONScanner([UInt8](data))
        var events = 0
        do {
            try scanner.object { key, s in
                guard key == "events", s.peek() == UInt8(ascii: "[") else { try s.value(); return }
                try s.array { _, s in
                    events += 1
                    guard events <= WireLimits.maxEventsPerBatch else { throw TooMany() }
                    try s.value()
                }
            }
        } catch {
            // Either too many (events says so) or not of this shape (the decoder will say how).
        }
        return events
    }
}
