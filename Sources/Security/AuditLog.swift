import Foundation
import RPCCore

/// The audit trail of calls: one JSON object per line on stderr, for every denied call and
/// every write (whatever its outcome):
/// `{"audit":"call","time":…,"level":…,"component":"audit","message":…,"principal":…,"method":…,"clients":[…],"request_id":…,"outcome":…,"code":…,"peer":…}`
/// (the keys of holdingsd's `--log-format json` lines first; message is the status message, or the outcome).
/// Written on every write, so the line is built directly (keys fixed, strings escaped per
/// RFC 8259) rather than through JSONSerialization, which cost 17 % of a write's CPU.
public struct AuditLog: Sendable {
    private let write: @Sendable (String) -> Void

    /// Lines go to `write` (stderr by default).
    public init(write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.write = write
    }

    public func record(
        principal: Principal?, method: String, clients: [String], requestId: String, outcome: String, status: RPCError, peer: String
    ) {
        write(Self.line(
            time: Self.timestamp(), principal: principal?.description ?? "anonymous", method: method, clients: clients,
            requestId: requestId, outcome: outcome, code: status.code.description, message: String(status.message.prefix(512)), peer: peer))
    }

    static func line(
        time: String, principal: String, method: String, clients: [String], requestId: String, outcome: String, code: String,
        message: String, peer: String
    ) -> String {
        var line = #"{"audit":"call","time":"# + quoted(time)
        line += #","level":"# + (outcome == "ok" ? #""info""# : #""warning""#)
        line += #","component":"audit","message":"# + quoted(message.isEmpty ? outcome : message)
        line += #","principal":"# + quoted(principal)
        line += #","method":"# + quoted(method)
        line += #","clients":["# + clients.map(quoted).joined(separator: ",") + "]"
        line += #","request_id":"# + quoted(requestId)
        line += #","outcome":"# + quoted(outcome)
        line += #","code":"# + quoted(code)
        line += #","peer":"# + quoted(peer)
        return line + "}"
    }

    /// A JSON string literal of `text`: quote, backslash and control characters escaped.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Now, RFC 3339 UTC with milliseconds (also the service log's stamp).
    public static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return rfc3339(seconds: Int(now.tv_sec), fraction: Int(now.tv_nsec / 1_000_000), digits: 3)
    }

    /// RFC 3339 UTC of a time since 1970: `seconds` and a `fraction` of a second written
    /// with `digits` digits (3: milliseconds, 6: microseconds).
    public static func rfc3339(seconds: Int, fraction: Int, digits: Int) -> String {
        var time = seconds
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(Int(parts.tm_year) + 1900, 4) + "-" + pad(Int(parts.tm_mon) + 1, 2) + "-" + pad(Int(parts.tm_mday), 2) + "T"
            + pad(Int(parts.tm_hour), 2) + ":" + pad(Int(parts.tm_min), 2) + ":" + pad(Int(parts.tm_sec), 2) + "." + pad(fraction, digits) + "Z"
    }
}
