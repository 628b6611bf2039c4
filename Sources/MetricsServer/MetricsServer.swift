import Hummingbird
import HTTPGateway
import Services

/// GET /metrics over HTTP/1.1 on its own port, in Prometheus text format (exposition 0.0.4);
/// every other path is 404. Runs until the process ends.
public enum MetricsServer {
    /// Starts serving and returns the port bound (0 asks for any free one) once the server
    /// listens; throws when it cannot bind within 10 seconds.
    public static func start(host: String, port: Int, metrics: HoldingsMetrics) throws -> Int {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let body = await metrics.scrape()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        return try HTTPListener.start(port: port, what: "the metrics server") { onRunning, logger in
            Application(
                router: router, configuration: .init(address: .hostname(host, port: port), serverName: "holdingsd"),
                onServerRunning: onRunning, logger: logger)
        }
    }
}
