import FuzzTargets

#if canImport(Glibc)
import Glibc
#endif

/// The target this process fuzzes, named by `FUZZ_TARGET` (frame, manifest, config, journal, position).
nonisolated(unsafe) private var target: (@Sendable ([UInt8]) -> Void)?

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    let name = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let chosen = FuzzTargets.all[name] else {
        let message = "FUZZ_TARGET must be one of \(FuzzTargets.all.keys.sorted().joined(separator: ", ")), not '\(name)'\n"
        _ = write(2, message, message.utf8.count)
        exit(2)
    }
    target = chosen
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target?(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
