#if canImport(Glibc)
import Glibc
#endif

/// The one rule for files that hold secrets (the journal's encryption key, the upload token, the
/// client key): a regular file that no other user can read. The daemon refuses to start with one
/// that breaks it, and `config check` says so first, in the same words.
public enum SecretFile {
    /// Why the file at `path` may not hold a secret, or nil when it may. Reads nothing of it.
    public static func problem(at path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            return "\(path) cannot be read: \(String(cString: strerror(code))) (errno \(code))"
        }
        guard st.st_mode & S_IFMT == S_IFREG else { return "\(path) is not a regular file" }
        guard st.st_mode & 0o077 == 0 else {
            return "\(path) has mode \(String(st.st_mode & 0o777, radix: 8)), which lets other users read it; chmod 600 (or 400) and chown it to the service user"
        }
        guard access(path, R_OK) == 0 else {
            let code = errno
            return "\(path) cannot be read: \(String(cString: strerror(code))) (errno \(code))"
        }
        return nil
    }
}
