import CZlib
import RPCCore

/// gRPC over HTTP/2 wire details (grpc/grpc doc/PROTOCOL-HTTP2.md).
public enum GRPCWire {
    /// The message encodings this implementation speaks, as `grpc-accept-encoding` lists them.
    public static let acceptEncoding = "identity,gzip"

    /// `grpc-message` is percent-encoded: bytes outside 0x20–0x7E and '%' become %XX.
    public static func percentEncode(_ message: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var result: [UInt8] = []
        result.reserveCapacity(message.utf8.count)
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                result.append(byte)
            } else {
                result += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// The inverse of ``percentEncode(_:)``; a malformed escape is kept as it is.
    public static func percentDecode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                result.append(high << 4 | low)
                index += 3
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// `grpc-timeout`: 1–8 ASCII digits and a unit (H, M, S, m, u, n); nil when malformed.
    public static func timeout(_ value: String) -> Duration? {
        guard let unit = value.last, value.count >= 2, value.count <= 9,
              value.utf8.dropLast().allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let amount = Int64(value.dropLast()) else { return nil }
        switch unit {
        case "H": return .seconds(amount * 3600)
        case "M": return .seconds(amount * 60)
        case "S": return .seconds(amount)
        case "m": return .milliseconds(amount)
        case "u": return .microseconds(amount)
        case "n": return .nanoseconds(amount)
        default: return nil
        }
    }

    /// A `grpc-timeout` value for `duration` (at most 8 digits, rounded up; never negative).
    public static func timeoutHeader(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return "1n" }
        let nanos = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if !nanos.overflow, nanos.partialValue + attoseconds / 1_000_000_000 < 100_000_000 {
            return "\(max(1, nanos.partialValue + (attoseconds + 999_999_999) / 1_000_000_000))n"
        }
        for (unit, perUnit) in [("u", Int64(1_000)), ("m", 1_000_000)] {
            let total = nanos.overflow ? Int64.max : nanos.partialValue + attoseconds / 1_000_000_000
            let value = total / perUnit + 1
            if value < 100_000_000 { return "\(value)\(unit)" }
        }
        if seconds < 100_000_000 { return "\(seconds + 1)S" }
        if seconds / 60 < 100_000_000 { return "\(seconds / 60 + 1)M" }
        return "\(min(seconds / 3600 + 1, 99_999_999))H"
    }

    /// A message with its 5-byte prefix, gzip-compressed when `compress`.
    public static func frame(_ message: [UInt8], compress: Bool = false) -> [UInt8] {
        let body = compress ? Gzip.compress(message) : message
        let length = UInt32(body.count)
        var framed: [UInt8] = [compress ? 1 : 0, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
        framed.reserveCapacity(5 + body.count)
        framed.append(contentsOf: body)
        return framed
    }

    /// Headers that belong to the protocol, never to metadata.
    public static let reservedHeaders: Set<String> = [
        "content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "user-agent",
        "grpc-status", "grpc-message", "grpc-status-details-bin", "content-length", "accept-encoding",
    ]

    /// Metadata from received headers: pseudo and reserved headers dropped, `-bin`
    /// values base64-decoded (padded or not; an undecodable value is dropped).
    public static func metadata(from headers: [(String, String)]) -> Metadata {
        var metadata = Metadata()
        for (name, value) in headers where !name.hasPrefix(":") && !reservedHeaders.contains(name) {
            if name.hasSuffix("-bin") {
                for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                    if let bytes = Base64.decode(part.trimmingWhitespace()) { metadata.add(name, binary: bytes) }
                }
            } else {
                metadata.add(name, value)
            }
        }
        return metadata
    }

    /// Headers for metadata: `-bin` values base64 (unpadded), text values as they are.
    /// Throws INTERNAL for a key that is not a valid header name or reserved, or a
    /// text value with bytes outside printable ASCII.
    public static func headers(from metadata: Metadata) throws(RPCError) -> [(String, String)] {
        var headers: [(String, String)] = []
        for (key, value) in metadata {
            guard !key.isEmpty, !key.hasPrefix(":"), !reservedHeaders.contains(key),
                  key.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E })
            else { throw RPCError(.internal, "metadata key '\(key)' is not allowed") }
            switch value {
            case .binary(let bytes):
                guard key.hasSuffix("-bin") else { throw RPCError(.internal, "binary metadata needs a key ending in -bin, not '\(key)'") }
                headers.append((key, Base64.encode(bytes)))
            case .string(let text):
                guard !key.hasSuffix("-bin") else { throw RPCError(.internal, "metadata key '\(key)' ends in -bin but has a text value") }
                guard text.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
                    throw RPCError(.internal, "metadata value of '\(key)' has bytes outside printable ASCII")
                }
                headers.append((key, text))
            }
        }
        return headers
    }

    /// Whether an encoding list (`grpc-accept-encoding`) names `encoding`.
    public static func lists(_ encodings: String?, _ encoding: String) -> Bool {
        guard let encodings else { return false }
        return encodings.split(separator: ",").contains { $0.trimmingWhitespace() == encoding }
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}

/// gzip (RFC 1952) through zlib, the `gzip` grpc-encoding.
public enum Gzip {
    public enum Failure: Error, Equatable {
        case corrupt
        case tooLarge
    }

    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        var input = input
        let produced = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = source.baseAddress
                stream.avail_in = UInt32(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = UInt32(target.count)
                _ = deflate(&stream, Z_FINISH)
                return target.count - Int(stream.avail_out)
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Inflates one gzip member; throws `.tooLarge` past `limit` bytes of output (a
    /// compression bomb stops there) and `.corrupt` for anything that is not gzip.
    public static func decompress(_ input: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw .corrupt }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = input
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = UInt32(source.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { target -> Int in
                    stream.next_out = target.baseAddress
                    stream.avail_out = UInt32(target.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return target.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                if output.count > limit { status = Z_MEM_ERROR; return }
            } while status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        if output.count > limit { throw .tooLarge }
        guard status == Z_STREAM_END, stream.avail_in == 0 else { throw .corrupt }
        return output
    }
}

/// Splits a received body into gRPC messages, inflating compressed ones.
public struct MessageDeframer {
    public enum Failure: Error, Equatable {
        /// The compressed flag is set and the call has no encoding.
        case compressedWithoutEncoding
        /// A message (before or after inflating) is larger than the limit.
        case tooLarge(Int)
        /// A compressed message does not inflate.
        case corrupt
        /// The flag byte is neither 0 nor 1.
        case badFlag(UInt8)

        /// The status that ends the call; `side` names the messages ("request", "response").
        public func status(of side: String, limit: Int) -> RPCError {
            switch self {
            case .compressedWithoutEncoding:
                RPCError(.internal, "a \(side) message has the compressed flag but the \(side) has no grpc-encoding")
            case .tooLarge(let size):
                RPCError(.resourceExhausted, "\(side) message of \(size) bytes exceeds the limit of \(limit) bytes")
            case .corrupt:
                RPCError(.internal, "a compressed \(side) message does not inflate as gzip")
            case .badFlag(let flag):
                RPCError(.internal, "\(side) message flag byte \(flag) is neither 0 nor 1")
            }
        }
    }

    private var buffer: [UInt8] = []
    private var offset = 0
    /// Largest message accepted, bytes (after inflating).
    public let maxMessageSize: Int
    /// Whether the peer's messages may be gzip-compressed (its `grpc-encoding` is gzip).
    public var gzip = false

    public init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    /// True when bytes of an incomplete message are held.
    public var hasPartialMessage: Bool { buffer.count > offset }

    /// Wire size of the incomplete message held (prefix included), 5 while its prefix is
    /// incomplete; 0 when none.
    public var partialMessageWireSize: Int {
        let held = buffer.count - offset
        guard held > 0 else { return 0 }
        guard held >= 5 else { return 5 }
        return 5 + (Int(buffer[offset + 1]) << 24 | Int(buffer[offset + 2]) << 16 | Int(buffer[offset + 3]) << 8 | Int(buffer[offset + 4]))
    }

    /// Adds received bytes; returns the complete messages with the wire size of each
    /// (prefix included, for flow-control accounting) and whether it came compressed.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> [(message: [UInt8], wireSize: Int, compressed: Bool)] {
        if offset == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
        var messages: [(message: [UInt8], wireSize: Int, compressed: Bool)] = []
        while buffer.count - offset >= 5 {
            let flag = buffer[offset]
            let length = Int(buffer[offset + 1]) << 24 | Int(buffer[offset + 2]) << 16 | Int(buffer[offset + 3]) << 8 | Int(buffer[offset + 4])
            guard flag <= 1 else { throw .badFlag(flag) }
            if flag == 1 && !gzip { throw .compressedWithoutEncoding }
            if length > maxMessageSize { throw .tooLarge(length) }
            guard buffer.count - offset - 5 >= length else { break }
            var message = Array(buffer[(offset + 5)..<(offset + 5 + length)])
            if flag == 1 {
                do {
                    message = try Gzip.decompress(message, limit: maxMessageSize)
                } catch .tooLarge {
                    throw .tooLarge(maxMessageSize + 1)
                } catch {
                    throw .corrupt
                }
            }
            messages.append((message, 5 + length, flag == 1))
            offset += 5 + length
        }
        if offset > 1 << 16 || offset == buffer.count {
            buffer.removeFirst(offset)
            offset = 0
        }
        return messages
    }
}
