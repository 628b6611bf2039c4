import Hummingbird
import Logging
import Services

/// GET /metrics over HTTP/1.1 on its own port, in Prometheus text format (exposition 0.0.4);
/// every other path is 404. Runs until the process ends.
public enum MetricsServer {
    /// Starts serving; `bound` is called with the port actually bound (0 asks for any).
    public static func start(host: String, port: Int, metrics: HoldingsMetrics, bound: @escaping @Sendable (Int) -> Void) {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let body = await metrics.scrape()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        // Hummingbird's own log lines (its "listening on") stay out of holdingsd's output.
        var logger = Logger(label: "holdingsd.metrics")
        logger.logLevel = .warning
        let application = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "holdingsd"),
                                      onServerRunning: { channel in bound(channel.localAddress?.port ?? port) }, logger: logger)
        Task {
            do {
                try await application.runService(gracefulShutdownSignals: [])
            } catch {
                print("holdingsd: the metrics server stopped: \(error)")
            }
        }
    }
}
