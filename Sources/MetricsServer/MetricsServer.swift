import Dispatch
import Hummingbird
import Logging
import Services
import Synchronization

/// GET /metrics over HTTP/1.1 on its own port, in Prometheus text format (exposition 0.0.4);
/// every other path is 404. Runs until the process ends.
public enum MetricsServer {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts serving and returns the port bound (0 asks for any free one) once the server
    /// listens; throws when it cannot bind within 10 seconds.
    public static func start(host: String, port: Int, metrics: HoldingsMetrics) throws -> Int {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let body = await metrics.scrape()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        let outcome = Mutex<Result<Int, StartError>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        // Hummingbird's own log lines (its "listening on") stay out of holdingsd's output.
        var logger = Logger(label: "holdingsd.metrics")
        logger.logLevel = .warning
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "holdingsd"),
            onServerRunning: { channel in
                outcome.withLock { $0 = .success(channel.localAddress?.port ?? port) }
                ready.signal()
            }, logger: logger)
        Task {
            do {
                try await application.runService(gracefulShutdownSignals: [])
            } catch {
                let first = outcome.withLock { result in
                    guard result == nil else { return false }
                    result = .failure(StartError(description: "\(error)"))
                    return true
                }
                if first { ready.signal() } else { print("holdingsd: the metrics server stopped: \(error)") }
            }
        }
        guard ready.wait(timeout: .now() + 10) == .success, let result = outcome.withLock({ $0 }) else {
            throw StartError(description: "the metrics server did not start within 10 s")
        }
        return try result.get()
    }
}
