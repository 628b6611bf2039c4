import Foundation
import Security
import Store

/// Service log lines on stderr: `2026-11-25T10:00:00.123Z holdingsd[projector] message`.
public enum Log {
    static let process = "holdingsd"

    public static func info(_ component: String, _ message: String) {
        write("\(stamp()) \(process)[\(component)] \(message)\n")
    }

    public static func error(_ component: String, _ message: String) {
        write("\(stamp()) \(process)[\(component)] ERROR \(message)\n")
    }

    private static func write(_ line: String) {
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func stamp() -> String { AuditLog.timestamp() }
}
