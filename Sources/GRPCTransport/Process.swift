import CLinux
import Foundation
import Glibc

/// Process-wide settings a server needs.
public enum ResourceLimits {
    /// Raises the soft limit on open files to the hard limit: every connection is a
    /// descriptor, and the default soft limit (1024) is lower than the connections a
    /// server should hold.
    public static func raiseOpenFiles() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// SIGTERM/SIGINT handling for a server process.
public enum GracefulShutdown {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Ignores SIGPIPE; on the first SIGTERM or SIGINT runs `shutdown` and exits 0; a
    /// second signal exits at once. Never returns (runs the main dispatch queue).
    public static func onSignals(_ shutdown: @escaping @Sendable () async -> Void) -> Never {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        var started = false
        for signalNumber in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
            source.setEventHandler {
                if started { exit(1) }
                started = true
                Task {
                    await shutdown()
                    exit(0)
                }
            }
            source.resume()
            sources.append(source)
        }
        dispatchMain()
    }
}
