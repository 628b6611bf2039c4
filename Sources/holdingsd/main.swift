import CLinux
import Foundation
import GRPCClient
import GRPCServer
import GRPCTransport
import HoldingsProto
import NativeLibraries
import RPCCore
import Security
import EventLog
import MetricsServer
import HTTPGateway
import Services
import StandardServices

/// holdingsd: the UltraCore Holdings service, gRPC over HTTP/2 (h2c with prior
/// knowledge, or TLS with ALPN h2).
let version = "0.5.0"

func usage() -> String {
    """
    usage: holdingsd [--host ADDR] [--port N] [--threads N] [--max-message-bytes N]
                     (--tls-cert FILE --tls-key FILE | --plaintext | --insecure-dev)
                     [--client-ca FILE] [--client-principals FILE]
                     [--jwt-hs256-secret-file FILE] [--jwt-jwks-file FILE] [--jwt-issuer ISS]
                     [--jwt-audience AUD] [--jwt-clock-skew SECONDS] [--reflection]
                     [--handshake-timeout S] [--idle-timeout S] [--keepalive-interval S]
                     [--keepalive-timeout S] [--max-connections N] [--max-connections-per-address N]
                     [--receive-grace S] [--min-receive-rate BYTES]
                     [--shutdown-grace SECONDS] [--version]
                     [--role all|api|projector] [--database-url URL] [--kafka-brokers LIST]
                     [--kafka-property KEY=VALUE]... [--topic ROLE=NAME]... [--partitions N]
                     [--max-projection-lag N] [--kafka-message-timeout-ms N] [--watch-buffer N]
                     [--scheduler-interval-ms N] [--scheduler-clock-file FILE]
                     [--metrics-port N] [--metrics-host ADDR]
                     [--http-port N] [--http2-port N] [--http-host ADDR] [--log-format text|json]

      --host ADDR               IPv4 address to listen on (default 127.0.0.1)
      --port N                  TCP port, 0 for any free one (default 50051)
      --threads N               event loops (default: one per core)
      --max-message-bytes N     largest request message (default 4194304)
      --tls-cert FILE           PEM certificate chain: serve TLS (ALPN h2); required unless
                                --plaintext or --insecure-dev
      --tls-key FILE            PEM private key of the certificate
      --plaintext               serve h2c without TLS, on a loopback address only (behind a
                                local proxy or sidecar that terminates TLS); callers still
                                authenticate with bearer tokens
      --insecure-dev            local experiments only: no TLS and NO AUTHENTICATION, every
                                caller is admin; refused unless --host is a loopback address
      --client-ca FILE          PEM CA certificates: ask TLS clients for a certificate
                                (mutual TLS); one chaining to these CAs authenticates the caller
      --client-principals FILE  JSON object: certificate identity (SAN URI, else CN) ->
                                space-separated scopes
      --jwt-hs256-secret-file FILE  HS256 secret (development; env HOLDINGS_JWT_HS256_SECRET);
                                at least 32 bytes
      --jwt-jwks-file FILE      JSON Web Key Set with the RS256/ES256 public keys (each with a kid)
      --jwt-issuer ISS          required token iss (default ultracore-holdings)
      --jwt-audience AUD        required among token aud (default ultracore-holdings)
      --jwt-clock-skew SECONDS  tolerance on exp and nbf (default 30)
      --reflection              serve gRPC server reflection (off by default)
      --no-agent                do not run the monitoring agent (roles all and api run it)
      --metrics-port N          serve GET /metrics (Prometheus text format, HTTP/1.1) on this
                                port, 0 for any free one; off unless given. No client data:
                                labels are methods, statuses, event types, topics and tables
      --metrics-host ADDR       address of the metrics endpoint (default 127.0.0.1)
      --http-port N             serve REST/JSON (the google.api.http routes), the Connect
                                protocol and GET /openapi.json over HTTP/1.1 on this port, 0 for
                                any free one; off unless given. Same handlers, authentication
                                and errors as gRPC
      --http2-port N            the same over cleartext HTTP/2 (prior knowledge) on this port
      --log-format F            text (default) or json: one object per line with time, level,
                                component, message and, where known, request and client ids;
                                librdkafka's own lines too (env HOLDINGS_LOG_FORMAT)
      --http-host ADDR          address of the HTTP ports (default 127.0.0.1); loopback only:
                                they have no TLS, put a TLS-terminating proxy in front
      --handshake-timeout S     TLS handshake + HTTP/2 preface + SETTINGS within S (default 10)
      --idle-timeout S          close connections without a call for S, with GOAWAY (default 300)
      --keepalive-interval S    PING a client silent for S (default 60)
      --keepalive-timeout S     close when no frame follows the PING within S (default 20)
      --max-connections N       open connections per process (default 10000)
      --max-connections-per-address N  per source address (default 1000)
      --receive-grace S         time an unfinished frame, header block or message may take,
                                plus its size at --min-receive-rate (default 10)
      --min-receive-rate BYTES  bytes/s an unfinished frame or message must arrive at (default 1024)
      --shutdown-grace SECONDS  on SIGTERM, how long calls in flight may finish (default 10)
      --role ROLE               all (API, projector and monitoring agent, default), api (API and agent),
                                projector, or agent (the monitoring agent alone, acting through --api-address;
                                needs --kafka-brokers)
      --api-address HOST:PORT   role agent: the API it acts through (h2c on loopback, or TLS with --api-ca-file)
      --api-token-file F        role agent: its bearer token (a service identity with the admin scope)
      --api-ca-file F           role agent: CA certificates to verify the API's TLS certificate
      --database-url URL        PostgreSQL (libpq URL; env HOLDINGS_DATABASE_URL;
                                default postgresql://postgres@127.0.0.1:55432/holdings); a URL
                                with a password is refused here (it would show in ps): use
                                the environment variable, PGPASSWORD or PGPASSFILE
      --kafka-brokers LIST      Kafka bootstrap servers host:port,... (env HOLDINGS_KAFKA_BROKERS);
                                none: start the embedded broker (librdkafka mock cluster)
      --kafka-property K=V      librdkafka property for every Kafka handle, e.g.
                                security.protocol=SASL_SSL, sasl.mechanisms=PLAIN (repeatable;
                                env HOLDINGS_KAFKA_PROPERTIES, K=V;K=V); passwords and other
                                secrets only in the environment (refused here: ps shows them)
      --topic ROLE=NAME         topic name for positions (the log of record: every event, a
                                client's in one partition), agent-alerts (the monitoring agent's
                                alerts), dead-letters or lineage (OpenLineage run events, JSON)
                                (defaults holdings.<role>)
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
    if Log.format == .json {
        Log.error("holdingsd", message, [("exit_status", String(status))])
    } else {
        FileHandle.standardError.write(Data("holdingsd: \(message)\n".utf8))
    }
    exit(status)
}

var configuration = ServerConfiguration()
var certificate: String?
var privateKey: String?
var plaintext = false
var insecureDevelopment = false
var clientCA: String?
var clientPrincipals: String?
var tokenSettings = AccessTokenSettings()
var reflectionEnabled = false
var agentEnabled = true
var metricsPort: Int?
var metricsHost = "127.0.0.1"
var httpPort: Int?
var http2Port: Int?
var httpHost = "127.0.0.1"
var apiAddress: String?
var apiTokenFile: String?
var apiCAFile: String?
var grace = Duration.seconds(10)
var backbone = BackboneConfiguration()
var schedulerInterval = Duration.seconds(1)
var schedulerClock: any SchedulerClock = SystemSchedulerClock()
let environment = ProcessInfo.processInfo.environment
if let url = environment["HOLDINGS_DATABASE_URL"], !url.isEmpty { backbone.databaseURL = url }
if let brokers = environment["HOLDINGS_KAFKA_BROKERS"] { backbone.kafka.brokers = brokers }
if let secret = environment["HOLDINGS_JWT_HS256_SECRET"], !secret.isEmpty { tokenSettings.hmacSecret = Array(secret.utf8) }
@MainActor func seconds(_ flag: String) -> Duration {
    let text = value(flag)
    guard let parsed = Double(text), parsed.isFinite, parsed > 0, parsed < 1e7 else { fail("\(flag) takes a positive number of seconds, not '\(text)'") }
    return .milliseconds(Int64(parsed * 1000))
}
@MainActor func fileText(_ flag: String) -> String {
    let path = value(flag)
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        fail("\(flag): cannot read \(path)")
    }
    return text
}
/// A libpq URL or key=value string that carries a password.
func carriesPassword(_ url: String) -> Bool {
    if url.contains("password=") { return true }
    guard let scheme = url.range(of: "://") else { return false }
    let rest = url[scheme.upperBound...]
    guard let at = rest.firstIndex(of: "@") else { return false }
    return rest[..<at].contains(":")
}
@MainActor func kafkaProperty(_ pair: Substring) {
    guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
        fail("a Kafka property is KEY=VALUE, not '\(pair)'")
    }
    backbone.kafka.additional[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
}
for pair in (environment["HOLDINGS_KAFKA_PROPERTIES"] ?? "").split(separator: ";") { kafkaProperty(pair) }
var arguments = CommandLine.arguments.dropFirst()
if let text = ProcessInfo.processInfo.environment["HOLDINGS_LOG_FORMAT"], let format = LogFormat(rawValue: text) { Log.format = format }
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
    case "--plaintext": plaintext = true
    case "--insecure-dev": insecureDevelopment = true
    case "--client-ca": clientCA = value(argument)
    case "--client-principals": clientPrincipals = value(argument)
    case "--jwt-hs256-secret-file":
        let secret = fileText(argument).trimmingCharacters(in: .whitespacesAndNewlines)
        tokenSettings.hmacSecret = Array(secret.utf8)
    case "--jwt-jwks-file": tokenSettings.jwksJSON = fileText(argument)
    case "--jwt-issuer": tokenSettings.issuer = value(argument)
    case "--jwt-audience": tokenSettings.audience = value(argument)
    case "--jwt-clock-skew": tokenSettings.clockSkew = .seconds(number(argument, UInt16.self))
    case "--reflection": reflectionEnabled = true
    case "--no-agent": agentEnabled = false
    case "--metrics-port": metricsPort = Int(number(argument, UInt16.self))
    case "--metrics-host": metricsHost = value(argument)
    case "--log-format":
        let text = value(argument)
        guard let format = LogFormat(rawValue: text) else { fail("--log-format is text or json, not \(text)") }
        Log.format = format
    case "--http-port": httpPort = Int(number(argument, UInt16.self))
    case "--http2-port": http2Port = Int(number(argument, UInt16.self))
    case "--http-host": httpHost = value(argument)
    case "--api-address": apiAddress = value(argument)
    case "--api-token-file": apiTokenFile = value(argument)
    case "--api-ca-file": apiCAFile = value(argument)
    case "--handshake-timeout": configuration.limits.handshakeTimeout = seconds(argument)
    case "--idle-timeout": configuration.limits.idleTimeout = seconds(argument)
    case "--keepalive-interval": configuration.limits.keepaliveInterval = seconds(argument)
    case "--keepalive-timeout": configuration.limits.keepaliveTimeout = seconds(argument)
    case "--max-connections": configuration.limits.maxConnections = max(1, number(argument, Int.self))
    case "--max-connections-per-address": configuration.limits.maxConnectionsPerAddress = max(1, number(argument, Int.self))
    case "--receive-grace": configuration.limits.receiveGrace = seconds(argument)
    case "--min-receive-rate": configuration.limits.minReceiveRate = max(1, number(argument, Int.self))
    case "--shutdown-grace": grace = .seconds(number(argument, UInt32.self))
    case "--role":
        let text = value(argument)
        guard let role = BackboneConfiguration.Role(rawValue: text) else { fail("--role is all, api, projector or agent, not '\(text)'") }
        backbone.role = role
    case "--database-url":
        let url = value(argument)
        if carriesPassword(url) {
            fail("--database-url carries a password, which anyone can read in ps: put it in HOLDINGS_DATABASE_URL, PGPASSWORD or a PGPASSFILE")
        }
        backbone.databaseURL = url
    case "--kafka-brokers": backbone.kafka.brokers = value(argument)
    case "--kafka-property":
        let pair = value(argument)
        let key = pair.prefix { $0 != "=" }.lowercased()
        if key.contains("password") || key.contains("secret") || key.hasSuffix(".key.pem") || key.hasSuffix("jaas.config") {
            fail("--kafka-property \(key) holds a secret, which anyone can read in ps: put it in HOLDINGS_KAFKA_PROPERTIES")
        }
        kafkaProperty(Substring(pair))
    case "--topic":
        let pair = value(argument).split(separator: "=", maxSplits: 1).map(String.init)
        guard pair.count == 2, !pair[1].isEmpty else { fail("--topic takes ROLE=NAME") }
        switch pair[0] {
        case "positions": backbone.kafka.topics.positions = pair[1]
        case "dead-letters": backbone.kafka.topics.deadLetters = pair[1]
        case "agent-alerts": backbone.kafka.topics.agentAlerts = pair[1]
        case "lineage": backbone.kafka.topics.lineage = pair[1]
        default: fail("--topic role is positions (the log of record: every event), agent-alerts, dead-letters or lineage, not '\(pair[0])'")
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
// Serving roles: TLS (or an explicit loopback-only exception) and authentication, closed by default.
if backbone.role == .agent && apiAddress == nil { fail("--role agent needs --api-address (the API it acts through)") }
if backbone.role != .projector && backbone.role != .agent {
    /// Loopback only: 127.0.0.0/8.
    let loopback = configuration.host.hasPrefix("127.")
    switch (certificate, privateKey) {
    case (let certificate?, let privateKey?):
        if plaintext || insecureDevelopment { fail("--tls-cert serves TLS; it does not go with --plaintext or --insecure-dev") }
        do {
            configuration.tls = try TLSContext(certificateChainFile: certificate, privateKeyFile: privateKey, clientCAFile: clientCA)
        } catch {
            fail("\(error)")
        }
    case (nil, nil):
        guard plaintext || insecureDevelopment else {
            fail("holdingsd serves TLS: give --tls-cert and --tls-key (or --plaintext on a loopback address behind a TLS proxy, or --insecure-dev for a local experiment)")
        }
        guard loopback else {
            fail("\(insecureDevelopment ? "--insecure-dev" : "--plaintext") listens on loopback addresses only (127.0.0.0/8), not \(configuration.host)")
        }
        if clientCA != nil { fail("--client-ca needs TLS (--tls-cert and --tls-key)") }
    default: fail("--tls-cert and --tls-key go together")
    }
    let authentication: CallAuthenticator.Mode
    if insecureDevelopment {
        authentication = .insecureDevelopment
        let warning = """
            ************************************************************************
            holdingsd: INSECURE DEVELOPMENT MODE (--insecure-dev)
            No TLS and NO AUTHENTICATION: every caller acts as admin on every client.
            For local experiments only; never with real data.
            ************************************************************************

            """
        if Log.format == .json {
            Log.warning("security", "insecure development mode: no TLS and no authentication, every caller acts as admin on every client")
        } else {
            FileHandle.standardError.write(Data(warning.utf8))
        }
    } else {
        var tokens: AccessTokenVerifier?
        var certificates: ClientCertificatePrincipals?
        do {
            if tokenSettings.isConfigured { tokens = try AccessTokenVerifier.loading(settings: tokenSettings) }
            if clientCA != nil {
                certificates = try clientPrincipals.map { try ClientCertificatePrincipals(file: $0) } ?? ClientCertificatePrincipals(scopes: [:])
            } else if clientPrincipals != nil {
                fail("--client-principals needs --client-ca")
            }
        } catch {
            fail("\(error)")
        }
        guard tokens != nil || certificates != nil else {
            fail("no way to authenticate callers: give --jwt-hs256-secret-file (or HOLDINGS_JWT_HS256_SECRET), --jwt-jwks-file or --client-ca (or --insecure-dev for a local experiment)")
        }
        authentication = .secured(tokens: tokens, certificates: certificates)
    }
    configuration.callGuard = CallAuthenticator(mode: authentication)
    configuration.log = { Log.info("server", $0) }
}
ResourceLimits.raiseOpenFiles()
// librdkafka's own lines through our logger (its handles are made from here on).
KafkaLogging.route { level, facility, message in Log.kafka(level: level, facility: facility, message: message) }
configuration.callObserver = HoldingsMetrics.shared

let running: Backbone
do {
    running = try Backbone.startBlocking(configuration: backbone)
} catch {
    fail("cannot start: \(error)", status: 1)
}
if let metricsPort {
    if let model = running.model { HoldingsMetrics.shared.observeFreshness(of: model) }
    do {
        let port = try MetricsServer.start(host: metricsHost, port: metricsPort, metrics: HoldingsMetrics.shared)
        Log.announce("holdingsd", "holdingsd metrics on http://\(metricsHost):\(port)/metrics")
    } catch {
        running.stop()
        fail("cannot serve metrics on \(metricsHost):\(metricsPort): \(error)", status: 1)
    }
}
if backbone.role == .projector {
    Log.announce("holdingsd", "holdingsd \(version) projector running (brokers \(running.bootstrap))")
    GracefulShutdown.onSignals { running.stop() }
}
if backbone.role == .agent, let apiAddress {
    let agent: MonitoringAgent
    do {
        var client = ClientConfiguration()
        try client.useCredentials(tokenFile: apiTokenFile, caFile: apiCAFile, certificateFile: nil, keyFile: nil)
        let channel = try GRPCChannel(target: apiAddress, configuration: client)
        guard let producer = running.producer else { fail("no producer", status: 1) }
        let backend = try RemoteAgentBackend(databaseURL: backbone.databaseURL, producer: producer,
                                             alertsTopic: backbone.kafka.topics.agentAlerts, channel: channel)
        agent = MonitoringAgent(remote: backend, configuration: backbone.kafka, bootstrap: running.bootstrap)
    } catch {
        fail("cannot start the agent: \(error)", status: 1)
    }
    agent.start()
    Log.announce("holdingsd", "holdingsd \(version) agent running (brokers \(running.bootstrap), acting through \(apiAddress))")
    GracefulShutdown.onSignals {
        agent.stop()
        running.stop()
    }
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
// Roles projector and agent never get here (onSignals does not return); the serving roles
// always have a write model.
guard let model = running.model else { fail("holdingsd \(backbone.role) started without a write model", status: 1) }
let holdings = HoldingsService(model: model)
let costBasis = CostBasisService(model: model)
let analytics = AnalyticsService(model: model)
let rebalancing = RebalancingService(model: model)
let agent = AgentService(model: model)
let scheduler = RebalancingScheduler(model: model, clock: schedulerClock, interval: schedulerInterval)
scheduler.start()
let monitor = agentEnabled ? MonitoringAgent(model: model, configuration: backbone.kafka, bootstrap: running.bootstrap) : nil
monitor?.start()
let dataMesh = DataMeshService(model: model)
let services: [any RPCService] = [health, holdings, costBasis, analytics, rebalancing, agent, dataMesh]
    + (reflectionEnabled ? reflection.services : [])
// Fail closed: every served method must have a declared access requirement.
for service in services {
    for handler in service.methodHandlers where MethodRequirements.byPath[handler.method.path] == nil {
        fail("\(handler.method.path) has no declared access requirement (Sources/Security/MethodRequirement.swift)", status: 1)
    }
}

let server: GRPCServer
do {
    server = try GRPCServer(configuration: configuration, services: services)
} catch {
    fail("\(error)", status: 1)
}
server.start()
for (port, http2) in [(httpPort, false), (http2Port, true)] {
    guard let port else { continue }
    guard httpHost.hasPrefix("127.") else {
        fail("--http-host \(httpHost) is not a loopback address: the HTTP gateway has no TLS (put a TLS-terminating proxy in front)")
    }
    do {
        let bound = try HTTPGateway.start(host: httpHost, port: port, http2: http2, calls: server.localCalls)
        Log.announce("holdingsd", "holdingsd \(http2 ? "HTTP/2 (prior knowledge)" : "HTTP/1.1") REST and Connect on http://\(httpHost):\(bound)/api/v1/holdings (OpenAPI at /openapi.json)")
    } catch {
        running.stop()
        fail("cannot serve HTTP on \(httpHost):\(port): \(error)", status: 1)
    }
}
let scheme = configuration.tls == nil ? (insecureDevelopment ? "h2c, INSECURE DEVELOPMENT MODE" : "h2c, bearer tokens") : (clientCA == nil ? "h2 over TLS" : "h2 over TLS, client certificates")
Log.announce("holdingsd",
    "holdingsd \(version) listening on \(configuration.host):\(server.port) (\(scheme), \(configuration.threads) event loops, brokers \(running.bootstrap))")
GracefulShutdown.onSignals {
    health.set("", .notServing)
    scheduler.stop()
    monitor?.stop()
    await server.shutdown(grace: grace)
    running.stop()
}
