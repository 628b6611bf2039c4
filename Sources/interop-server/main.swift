import Foundation
import GRPCServer
import GRPCTestingProto
import GRPCTransport
import HoldingsProto
import InteropService
import RPCCore
import StandardServices

/// interop-server: grpc.testing.TestService (the official interop protos) on our
/// server, with health and reflection, for conformance tests and benchmarks.
///
///     interop-server [--port N] [--threads N] [--max-message-bytes N] [--tls-cert F --tls-key F]
///
/// Prints "interop-server listening on 127.0.0.1:PORT" once it serves.

var configuration = ServerConfiguration()
// A conformance server: the tests hold a thousand idle connections from one address.
configuration.limits.maxConnectionsPerAddress = configuration.limits.maxConnections
configuration.port = 0
var certificate: String?
var privateKey: String?
var arguments = CommandLine.arguments.dropFirst()
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("interop-server: \(message)\n".utf8))
    exit(2)
}
while let argument = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fail("\(argument) needs a value") }
    switch argument {
    case "--port": configuration.port = UInt16(value) ?? { fail("bad port \(value)") }()
    case "--threads": configuration.threads = max(1, Int(value) ?? { fail("bad thread count \(value)") }())
    case "--max-message-bytes": configuration.maxMessageSize = Int(value) ?? { fail("bad size \(value)") }()
    case "--tls-cert": certificate = value
    case "--tls-key": privateKey = value
    default: fail("unknown argument \(argument)")
    }
}
if let certificate, let privateKey {
    do {
        configuration.tls = try TLSContext(certificateChainFile: certificate, privateKeyFile: privateKey)
    } catch {
        fail("\(error)")
    }
}
ResourceLimits.raiseOpenFiles()
let served = [Grpc_Testing_TestService.name, Grpc_Health_V1_Health.name, Grpc_Reflection_V1_ServerReflection.name]
let reflection = ReflectionService(files: GRPCTestingProtoFiles.files + HoldingsProtoFiles.files, services: served)
let services: [any RPCService] = [TestService(), HealthService(services: [Grpc_Testing_TestService.name])] + reflection.services
do {
    let server = try GRPCServer(configuration: configuration, services: services)
    server.start()
    FileHandle.standardOutput.write(Data("interop-server listening on \(configuration.host):\(server.port)\n".utf8))
    GracefulShutdown.onSignals { await server.shutdown(grace: .seconds(5)) }
} catch {
    fail("\(error)")
}
