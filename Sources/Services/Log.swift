import Foundation

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

    private static func stamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}
