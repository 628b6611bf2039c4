import ProtoCodec
import Synchronization

/// One writer per key: `withLock(key)` runs bodies for the same key one at a time, in
/// arrival order, without blocking a thread while waiting; different keys run in
/// parallel on every core.
final class KeyedLock: Sendable {
    /// A key is present while held; its array holds the waiters.
    private let state = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])

    func withLock<T>(_ key: String, _ body: () async throws -> T) async throws -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    private func acquire(_ key: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state[key] == nil {
                    state[key] = []
                    return true
                }
                state[key]!.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release(_ key: String) {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var waiters = state[key], !waiters.isEmpty else {
                state[key] = nil
                return nil
            }
            let first = waiters.removeFirst()
            state[key] = waiters
            return first
        }
        next?.resume()
    }
}

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
