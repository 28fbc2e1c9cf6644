/// A failure of the recognition engine itself (not "no plate found", which is an empty result).
public struct RecognitionError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var message: String

    public init(call: String, _ message: String) {
        self.call = call
        self.message = message
    }

    public var description: String { "\(call): \(message)" }
}
