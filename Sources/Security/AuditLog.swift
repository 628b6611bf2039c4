import Foundation
import RPCCore

/// The audit trail of calls: one JSON object per line on stderr, for every denied call and
/// every write (whatever its outcome):
/// `{"audit":"call","time":…,"principal":…,"method":…,"clients":[…],"request_id":…,"outcome":…,"code":…,"message":…,"peer":…}`.
public struct AuditLog: Sendable {
    private let write: @Sendable (String) -> Void

    /// Lines go to `write` (stderr by default).
    public init(write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.write = write
    }

    public func record(
        principal: Principal?, method: String, clients: [String], requestId: String, outcome: String, status: RPCError, peer: String
    ) {
        var entry: [String: Any] = [
            "audit": "call",
            "time": Self.timestamp(),
            "principal": principal?.description ?? "anonymous",
            "method": method,
            "clients": clients,
            "request_id": requestId,
            "outcome": outcome,
            "code": status.code.description,
            "peer": peer,
        ]
        if !status.message.isEmpty { entry["message"] = String(status.message.prefix(512)) }
        guard let data = try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]),
              let line = String(data: data, encoding: .utf8) else { return }
        write(line)
    }

    /// Now, RFC 3339 UTC with milliseconds.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}

