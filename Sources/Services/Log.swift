import Foundation
import RPCCore
import Security
import Store
import Synchronization

/// How holdingsd writes its log lines.
public enum LogFormat: String, Sendable {
    /// `2026-11-25T10:00:00.123Z holdingsd[projector] message` (ERROR before errors).
    case text
    /// One JSON object per line: `{"time":…,"level":…,"component":…,"message":…}` and, where
    /// known, `request_id`, `client_id` and other fields.
    case json
}

/// Service log lines on stderr (and the startup announcements on stdout), as text or JSON.
public enum Log {
    static let process = "holdingsd"
    private static let chosen = Mutex(LogFormat.text)

    /// The format of every line from now on (set once at start, from `--log-format`).
    public static var format: LogFormat {
        get { chosen.withLock { $0 } }
        set { chosen.withLock { $0 = newValue } }
    }

    public static func info(_ component: String, _ message: String, _ fields: [(String, String)] = []) {
        write(line("info", component, message, fields), to: .standardError)
    }

    public static func warning(_ component: String, _ message: String, _ fields: [(String, String)] = []) {
        write(line("warning", component, message, fields), to: .standardError)
    }

    public static func error(_ component: String, _ message: String, _ fields: [(String, String)] = []) {
        write(line("error", component, message, fields), to: .standardError)
    }

    /// A startup line on stdout (`listening on …`), which scripts wait for: the message
    /// alone in text format, a JSON line in JSON format.
    public static func announce(_ component: String, _ message: String) {
        write(format == .json ? line("info", component, message, []) : message + "\n", to: .standardOutput)
    }

    /// librdkafka's syslog levels (0 emergency … 7 debug) as ours.
    public static func kafka(level: Int32, facility: String, message: String) {
        let name = level <= 3 ? "error" : level == 4 ? "warning" : level <= 6 ? "info" : "debug"
        write(line(name, "kafka", message, [("facility", facility)]), to: .standardError)
    }

    static func line(_ level: String, _ component: String, _ message: String, _ fields: [(String, String)]) -> String {
        let fields = fields + callFields(besides: fields)
        switch format {
        case .text:
            let marker = level == "error" ? "ERROR " : level == "warning" ? "WARNING " : ""
            let extra = fields.map { " \($0.0)=\($0.1)" }.joined()
            return "\(AuditLog.timestamp()) \(process)[\(component)] \(marker)\(message)\(extra)\n"
        case .json:
            var text = #"{"time":"# + AuditLog.quoted(AuditLog.timestamp())
            text += #","level":"# + AuditLog.quoted(level)
            text += #","component":"# + AuditLog.quoted(component)
            text += #","message":"# + AuditLog.quoted(message)
            for (key, value) in fields { text += "," + AuditLog.quoted(key) + ":" + AuditLog.quoted(value) }
            return text + "}\n"
        }
    }

    /// The fields of the call the line is written in (its method, the clients it named and
    /// its request id, as far as the handler learned them), unless the line gives them.
    static func callFields(besides given: [(String, String)]) -> [(String, String)] {
        guard let call = CallScope.current else { return [] }
        var fields: [(String, String)] = [("method", call.method)]
        let clients = call.audit.clients
        if !clients.isEmpty { fields.append(("client_id", clients.joined(separator: ","))) }
        let requestId = call.audit.requestId
        if !requestId.isEmpty { fields.append(("request_id", requestId)) }
        return fields.filter { field in !given.contains { $0.0 == field.0 } }
    }

    private static func write(_ line: String, to handle: FileHandle) {
        handle.write(Data(line.utf8))
    }
}
