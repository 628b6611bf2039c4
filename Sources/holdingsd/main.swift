import CLinux
import Foundation
import GRPCServer
import GRPCTransport
import HoldingsProto
import NativeLibraries
import RPCCore
import Services
import StandardServices

/// holdingsd: the UltraCore Holdings service, gRPC over HTTP/2 (h2c with prior
/// knowledge, or TLS with ALPN h2).
let version = "0.5.0"

func usage() -> String {
    """
    usage: holdingsd [--host ADDR] [--port N] [--threads N] [--max-message-bytes N]
                     [--tls-cert FILE --tls-key FILE] [--shutdown-grace SECONDS] [--version]
                     [--role all|api|projector] [--database-url URL] [--kafka-brokers LIST]
                     [--kafka-property KEY=VALUE]... [--topic ROLE=NAME]... [--partitions N]
                     [--max-projection-lag N] [--kafka-message-timeout-ms N] [--watch-buffer N]
                     [--scheduler-interval-ms N] [--scheduler-clock-file FILE]

      --host ADDR               IPv4 address to listen on (default 127.0.0.1)
      --port N                  TCP port, 0 for any free one (default 50051)
      --threads N               event loops (default: one per core)
      --max-message-bytes N     largest request message (default 4194304)
      --tls-cert FILE           PEM certificate chain: serve TLS (ALPN h2) instead of cleartext
      --tls-key FILE            PEM private key of the certificate
      --shutdown-grace SECONDS  on SIGTERM, how long calls in flight may finish (default 10)
      --role ROLE               all (API and projector, default), api, or projector
      --database-url URL        PostgreSQL (libpq URL; env HOLDINGS_DATABASE_URL;
                                default postgresql://postgres@127.0.0.1:55432/holdings)
      --kafka-brokers LIST      Kafka bootstrap servers host:port,... (env HOLDINGS_KAFKA_BROKERS);
                                none: start the embedded broker (librdkafka mock cluster)
      --kafka-property K=V      librdkafka property for every Kafka handle, e.g.
                                security.protocol=SASL_SSL, sasl.mechanisms=PLAIN (repeatable;
                                env HOLDINGS_KAFKA_PROPERTIES, K=V;K=V)
      --topic ROLE=NAME         topic name for positions, trades, valuations, corporate-actions,
                                rebalancing or dead-letters (defaults holdings.<role>)
      --partitions N            partitions per topic of the embedded broker (default 16)
      --max-projection-lag N    unprojected events per partition before writes are refused
                                with UNAVAILABLE (default 5000)
      --watch-buffer N          events a WatchEvents subscriber may fall behind before its
                                stream ends with RESOURCE_EXHAUSTED (default 10000)
      --kafka-message-timeout-ms N  a write the brokers do not acknowledge in N ms fails
                                with UNAVAILABLE (message.timeout.ms, default 10000)
      --scheduler-interval-ms N how often rebalancing schedules are checked (default 1000)
      --scheduler-clock-file FILE  read the scheduler's time from FILE (whole seconds since
                                1970-01-01 UTC) instead of the server clock: for tests
    """
}

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("holdingsd: \(message)\n".utf8))
    exit(status)
}

var configuration = ServerConfiguration()
var certificate: String?
var privateKey: String?
var grace = Duration.seconds(10)
var backbone = BackboneConfiguration()
var schedulerInterval = Duration.seconds(1)
var schedulerClock: any SchedulerClock = SystemSchedulerClock()
let environment = ProcessInfo.processInfo.environment
if let url = environment["HOLDINGS_DATABASE_URL"], !url.isEmpty { backbone.databaseURL = url }
if let brokers = environment["HOLDINGS_KAFKA_BROKERS"] { backbone.kafka.brokers = brokers }
@MainActor func kafkaProperty(_ pair: Substring) {
    guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
        fail("a Kafka property is KEY=VALUE, not '\(pair)'")
    }
    backbone.kafka.additional[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
}
for pair in (environment["HOLDINGS_KAFKA_PROPERTIES"] ?? "").split(separator: ";") { kafkaProperty(pair) }
var arguments = CommandLine.arguments.dropFirst()
@MainActor func value(_ flag: String) -> String {
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value\n\(usage())") }
    return value
}
@MainActor func number<T: FixedWidthInteger>(_ flag: String, _ type: T.Type) -> T {
    let text = value(flag)
    guard let parsed = T(text) else { fail("\(flag) takes a number, not '\(text)'") }
    return parsed
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--host": configuration.host = value(argument)
    case "--port": configuration.port = number(argument, UInt16.self)
    case "--threads": configuration.threads = max(1, number(argument, Int.self))
    case "--max-message-bytes": configuration.maxMessageSize = max(1, number(argument, Int.self))
    case "--tls-cert": certificate = value(argument)
    case "--tls-key": privateKey = value(argument)
    case "--shutdown-grace": grace = .seconds(number(argument, UInt32.self))
    case "--role":
        let text = value(argument)
        guard let role = BackboneConfiguration.Role(rawValue: text) else { fail("--role is all, api or projector, not '\(text)'") }
        backbone.role = role
    case "--database-url": backbone.databaseURL = value(argument)
    case "--kafka-brokers": backbone.kafka.brokers = value(argument)
    case "--kafka-property": kafkaProperty(Substring(value(argument)))
    case "--topic":
        let pair = value(argument).split(separator: "=", maxSplits: 1).map(String.init)
        guard pair.count == 2, !pair[1].isEmpty else { fail("--topic takes ROLE=NAME") }
        switch pair[0] {
        case "positions": backbone.kafka.topics.positions = pair[1]
        case "trades": backbone.kafka.topics.trades = pair[1]
        case "valuations": backbone.kafka.topics.valuations = pair[1]
        case "corporate-actions": backbone.kafka.topics.corporateActions = pair[1]
        case "rebalancing": backbone.kafka.topics.rebalancing = pair[1]
        case "dead-letters": backbone.kafka.topics.deadLetters = pair[1]
        default: fail("--topic role is positions, trades, valuations, corporate-actions, rebalancing or dead-letters, not '\(pair[0])'")
        }
    case "--partitions": backbone.embeddedPartitions = max(1, number(argument, Int32.self))
    case "--max-projection-lag": backbone.maxProjectionLag = max(1, number(argument, Int.self))
    case "--watch-buffer": backbone.watchBuffer = max(1, number(argument, Int.self))
    case "--scheduler-interval-ms": schedulerInterval = .milliseconds(max(10, number(argument, Int.self)))
    case "--scheduler-clock-file": schedulerClock = FileSchedulerClock(path: value(argument))
    case "--kafka-message-timeout-ms": backbone.kafka.messageTimeoutMilliseconds = max(100, number(argument, Int.self))
    case "--version":
        print("holdingsd \(version)")
        for library in NativeLibraries.versions { print("  \(library.name) \(library.version)") }
        exit(0)
    case "--help", "-h":
        print(usage())
        exit(0)
    default:
        fail("unknown argument \(argument)\n\(usage())")
    }
}
switch (certificate, privateKey) {
case (let certificate?, let privateKey?):
    do {
        configuration.tls = try TLSContext(certificateChainFile: certificate, privateKeyFile: privateKey)
    } catch {
        fail("\(error)")
    }
case (nil, nil): break
default: fail("--tls-cert and --tls-key go together")
}
ResourceLimits.raiseOpenFiles()

let running: Backbone
do {
    running = try Backbone.startBlocking(configuration: backbone)
} catch {
    fail("cannot start: \(error)", status: 1)
}
if backbone.role == .projector {
    FileHandle.standardOutput.write(Data("holdingsd \(version) projector running (brokers \(running.bootstrap))\n".utf8))
    GracefulShutdown.onSignals { running.stop() }
}

let contract: [ServiceDescriptor] = [
    Ultracore_Holdings_V1_HoldingsService.descriptor, Ultracore_Holdings_V1_CostBasisService.descriptor,
    Ultracore_Holdings_V1_AnalyticsService.descriptor, Ultracore_Holdings_V1_RebalancingService.descriptor,
    Ultracore_Holdings_V1_DataMeshService.descriptor, Ultracore_Holdings_V1_AgentService.descriptor,
]
/// Health of the projection (service name "holdings.projection"): NOT_SERVING while records
/// wait in the dead-letter table (the projection is degraded), SERVING otherwise.
let projectionHealth = "holdings.projection"
let health = HealthService(services: contract.map(\.name) + [projectionHealth])
if let projector = running.projector {
    Thread.detachNewThread {
        var last = -1
        while true {
            let count = projector.deadLetterCount
            if count != last {
                health.set(projectionHealth, count == 0 ? .serving : .notServing)
                if count > 0 { Log.error("projector", "projection degraded: \(count) records in the dead-letter table") }
                last = count
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }
}
let reflection = ReflectionService(
    files: HoldingsProtoFiles.files,
    services: contract.map(\.name) + [Grpc_Health_V1_Health.name, Grpc_Reflection_V1_ServerReflection.name,
                                      Grpc_Reflection_V1alpha_ServerReflection.name])
let holdings = HoldingsService(model: running.model!)
let costBasis = CostBasisService(model: running.model!)
let analytics = AnalyticsService(model: running.model!)
let rebalancing = RebalancingService(model: running.model!)
let scheduler = RebalancingScheduler(model: running.model!, clock: schedulerClock, interval: schedulerInterval)
scheduler.start()
let services: [any RPCService] = [health, holdings, costBasis, analytics, rebalancing] + reflection.services
    + contract.dropFirst(4).map { PendingService($0) }

let server: GRPCServer
do {
    server = try GRPCServer(configuration: configuration, services: services)
} catch {
    fail("\(error)", status: 1)
}
server.start()
let scheme = configuration.tls == nil ? "h2c" : "h2 over TLS"
FileHandle.standardOutput.write(Data(
    "holdingsd \(version) listening on \(configuration.host):\(server.port) (\(scheme), \(configuration.threads) event loops, brokers \(running.bootstrap))\n".utf8))
GracefulShutdown.onSignals {
    health.set("", .notServing)
    scheduler.stop()
    await server.shutdown(grace: grace)
    running.stop()
}
