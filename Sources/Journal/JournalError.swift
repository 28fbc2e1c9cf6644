/// Why a journal operation failed; each names the file and the SQLite operation.
public enum JournalError: Error, CustomStringConvertible, Equatable {
    /// The file could not be created or opened (permissions, missing folder, disk full).
    case cannotOpen(path: String, reason: String)
    /// An SQLite statement failed.
    case sqlite(path: String, operation: String, message: String)
    /// A bad setting (quota below the minimum, …).
    case invalidSettings(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "journal \(path): cannot open: \(reason)"
        case let .sqlite(path, operation, message): "journal \(path): \(operation) failed: \(message)"
        case let .invalidSettings(message): "journal settings: \(message)"
        }
    }
}
