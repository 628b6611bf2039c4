import ProtoCodec
import Store

/// A 128-bit FNV-1a fingerprint (two 64-bit lanes) of a request's bytes: tells a retry
/// (same bytes) from another request reusing an id. Not a cryptographic hash; the id's
/// owner is the only one who can reuse it.
enum RequestFingerprint {
    /// Of a request message: its type name and bytes, so one id reused by another method differs.
    static func of<Request: ProtoMessage>(_ request: Request) -> String {
        of(Array(Request.protoMessageName.utf8) + [0] + request.serializedBytes())
    }

    static func of(_ bytes: [UInt8]) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte ^ 0x5a)) &* 0x0000_0100_0000_01b3
        }
        return String(a, radix: 16) + String(b, radix: 16)
    }
}
