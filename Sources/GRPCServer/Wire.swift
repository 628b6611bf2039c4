/// gRPC over HTTP/2 wire details (grpc/grpc doc/PROTOCOL-HTTP2.md).
enum GRPCWire {
    /// `grpc-message` is percent-encoded: bytes outside 0x20–0x7E and '%' become %XX.
    static func percentEncode(_ message: String) -> String {
        var result = ""
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                result.append(Character(Unicode.Scalar(byte)))
            } else {
                let hex = Array("0123456789ABCDEF")
                result += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0x0F)])
            }
        }
        return result
    }

    /// `grpc-timeout`: 1–8 ASCII digits and a unit (H, M, S, m, u, n); nil when malformed.
    static func timeout(_ value: String) -> Duration? {
        guard let unit = value.last, value.count >= 2, value.count <= 9,
              let amount = Int64(value.dropLast()), amount >= 0 else { return nil }
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

    /// A message with its 5-byte prefix (uncompressed).
    static func frame(_ message: [UInt8]) -> [UInt8] {
        let length = UInt32(message.count)
        var framed: [UInt8] = [0, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
        framed.reserveCapacity(5 + message.count)
        framed.append(contentsOf: message)
        return framed
    }
}

/// Splits a request body into gRPC messages.
struct MessageDeframer {
    enum Failure: Error, Equatable {
        case compressedWithoutEncoding
        case tooLarge(Int)
    }

    private var buffer: [UInt8] = []
    let maxMessageSize: Int

    init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    /// True when bytes of an incomplete message are held.
    var hasPartialMessage: Bool { !buffer.isEmpty }

    mutating func append(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> [[UInt8]] {
        buffer.append(contentsOf: bytes)
        var messages: [[UInt8]] = []
        var offset = 0
        while buffer.count - offset >= 5 {
            let flag = buffer[offset]
            let length = Int(buffer[offset + 1]) << 24 | Int(buffer[offset + 2]) << 16 | Int(buffer[offset + 3]) << 8 | Int(buffer[offset + 4])
            if flag != 0 { throw .compressedWithoutEncoding }
            if length > maxMessageSize { throw .tooLarge(length) }
            guard buffer.count - offset - 5 >= length else { break }
            messages.append(Array(buffer[(offset + 5)..<(offset + 5 + length)]))
            offset += 5 + length
        }
        if offset > 0 { buffer.removeFirst(offset) }
        return messages
    }
}
