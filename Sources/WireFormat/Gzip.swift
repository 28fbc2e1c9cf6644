public import Foundation
import CZlib

/// gzip (RFC 1952) through zlib, for request bodies. Decompression is bounded: a body that would
/// inflate past `limit` is refused (a zip bomb costs the store nothing).
public enum Gzip {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case zlib(call: String, code: Int32)
        case tooLarge(limit: Int)
        case truncated

        public var description: String {
            switch self {
            case .zlib(let call, let code): "\(call) failed: zlib error \(code)"
            case .tooLarge(let limit): "inflates to more than \(limit) bytes"
            case .truncated: "truncated gzip stream"
            }
        }
    }

    public static func compress(_ data: Data, level: Int32 = 6) throws(Failure) -> Data {
        var stream = z_stream()
        let initCode = czlib_deflate_init_gzip(&stream, level)
        guard initCode == Z_OK else { throw .zlib(call: "deflateInit2", code: initCode) }
        defer { deflateEnd(&stream) }
        var out = Data(count: Int(deflateBound(&stream, uLong(data.count))) + 32)
        let code: Int32 = data.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = output.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(output.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard code == Z_STREAM_END else { throw .zlib(call: "deflate", code: code) }
        out.count = Int(stream.total_out)
        return out
    }

    public static func decompress(_ data: Data, limit: Int) throws(Failure) -> Data {
        var stream = z_stream()
        let initCode = czlib_inflate_init_gzip(&stream)
        guard initCode == Z_OK else { throw .zlib(call: "inflateInit2", code: initCode) }
        defer { inflateEnd(&stream) }
        var out = Data()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var code: Int32 = Z_OK
        data.withUnsafeBytes { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBytes { buffer in
                    stream.next_out = buffer.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(buffer.count)
                    code = inflate(&stream, Z_NO_FLUSH)
                    return buffer.count - Int(stream.avail_out)
                }
                if code != Z_OK && code != Z_STREAM_END { break }
                if out.count + produced > limit { code = Z_MEM_ERROR - 100; break }
                out.append(contentsOf: chunk[0..<produced])
                if code == Z_OK && produced == 0 && stream.avail_in == 0 { break }
            } while code != Z_STREAM_END
        }
        switch code {
        case Z_STREAM_END: return out
        case Z_MEM_ERROR - 100: throw .tooLarge(limit: limit)
        case Z_OK, Z_BUF_ERROR: throw .truncated
        default: throw .zlib(call: "inflate", code: code)
        }
    }
}
