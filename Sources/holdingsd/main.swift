import CLinux
import Foundation
import GRPCServer
import GRPCTransport
import HoldingsProto
import NativeLibraries
import RPCCore
import StandardServices

/// holdingsd: the UltraCore Holdings service, gRPC over HTTP/2 (h2c with prior
/// knowledge, or TLS with ALPN h2).
let version = "0.3.0"

func usage() -> String {
    """
    usage: holdingsd [--host ADDR] [--port N] [--threads N] [--max-message-bytes N]
                     [--tls-cert FILE --tls-key FILE] [--shutdown-grace SECONDS] [--version]

      --host ADDR               IPv4 address to listen on (default 127.0.0.1)
      --port N                  TCP port, 0 for any free one (default 50051)
      --threads N               event loops (default: one per core)
      --max-message-bytes N     largest request message (default 4194304)
      --tls-cert FILE           PEM certificate chain: serve TLS (ALPN h2) instead of cleartext
      --tls-key FILE            PEM private key of the certificate
      --shutdown-grace SECONDS  on SIGTERM, how long calls in flight may finish (default 10)
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

let contract: [ServiceDescriptor] = [
    Ultracore_Holdings_V1_HoldingsService.descriptor, Ultracore_Holdings_V1_CostBasisService.descriptor,
    Ultracore_Holdings_V1_AnalyticsService.descriptor, Ultracore_Holdings_V1_RebalancingService.descriptor,
    Ultracore_Holdings_V1_DataMeshService.descriptor, Ultracore_Holdings_V1_AgentService.descriptor,
]
let health = HealthService(services: contract.map(\.name))
let reflection = ReflectionService(
    files: HoldingsProtoFiles.files,
    services: contract.map(\.name) + [Grpc_Health_V1_Health.name, Grpc_Reflection_V1_ServerReflection.name,
                                      Grpc_Reflection_V1alpha_ServerReflection.name])
let services: [any RPCService] = [health] + reflection.services + contract.map { PendingService($0) }

let server: GRPCServer
do {
    server = try GRPCServer(configuration: configuration, services: services)
} catch {
    fail("\(error)", status: 1)
}
server.start()
let scheme = configuration.tls == nil ? "h2c" : "h2 over TLS"
FileHandle.standardOutput.write(Data(
    "holdingsd \(version) listening on \(configuration.host):\(server.port) (\(scheme), \(configuration.threads) event loops)\n".utf8))
GracefulShutdown.onSignals { 
    health.set("", .notServing)
    await server.shutdown(grace: grace)
}
