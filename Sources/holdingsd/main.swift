import Foundation
import GRPCServer
import HoldingsProto
import NativeLibraries
import RPCCore
import StandardServices

/// holdingsd: the UltraCore Holdings service, gRPC over HTTP/2 (h2c, prior knowledge).
let version = "0.2.0"

func usage() -> String {
    """
    usage: holdingsd [--host ADDR] [--port N] [--threads N] [--max-message-bytes N] [--version]

      --host ADDR            IPv4 address to listen on (default 127.0.0.1)
      --port N               TCP port, 0 for any free one (default 50051)
      --threads N            event loops (default: one per core)
      --max-message-bytes N  largest request message (default 4194304)
    """
}

var configuration = ServerConfiguration()
var arguments = CommandLine.arguments.dropFirst()
@MainActor func value(_ flag: String) -> String {
    guard let value = arguments.popFirst() else {
        FileHandle.standardError.write(Data("holdingsd: \(flag) needs a value\n\(usage())\n".utf8))
        exit(2)
    }
    return value
}
@MainActor func number<T: FixedWidthInteger>(_ flag: String, _ type: T.Type) -> T {
    let text = value(flag)
    guard let parsed = T(text) else {
        FileHandle.standardError.write(Data("holdingsd: \(flag) takes a number, not '\(text)'\n".utf8))
        exit(2)
    }
    return parsed
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--host": configuration.host = value(argument)
    case "--port": configuration.port = number(argument, UInt16.self)
    case "--threads": configuration.threads = max(1, number(argument, Int.self))
    case "--max-message-bytes": configuration.maxMessageSize = max(1, number(argument, Int.self))
    case "--version":
        print("holdingsd \(version)")
        for library in NativeLibraries.versions { print("  \(library.name) \(library.version)") }
        exit(0)
    case "--help", "-h":
        print(usage())
        exit(0)
    default:
        FileHandle.standardError.write(Data("holdingsd: unknown argument \(argument)\n\(usage())\n".utf8))
        exit(2)
    }
}

let contract: [ServiceDescriptor] = [
    Ultracore_Holdings_V1_HoldingsService.descriptor, Ultracore_Holdings_V1_CostBasisService.descriptor,
    Ultracore_Holdings_V1_AnalyticsService.descriptor, Ultracore_Holdings_V1_RebalancingService.descriptor,
    Ultracore_Holdings_V1_DataMeshService.descriptor, Ultracore_Holdings_V1_AgentService.descriptor,
]
nonisolated(unsafe) var signalSources: [any DispatchSourceSignal] = []
let health = HealthService(services: contract.map(\.name))
let services: [any RPCService] = [health] + contract.map { PendingService($0) }

do {
    let server = try GRPCServer(configuration: configuration, services: services)
    server.start()
    FileHandle.standardOutput.write(Data("holdingsd \(version) listening on \(configuration.host):\(server.port) (\(configuration.threads) event loops)\n".utf8))
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    signal(SIGPIPE, SIG_IGN)
    for signalNumber in [SIGTERM, SIGINT] {
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
        source.setEventHandler { exit(0) }
        source.resume()
        signalSources.append(source)
    }
    dispatchMain()
} catch {
    FileHandle.standardError.write(Data("holdingsd: \(error)\n".utf8))
    exit(1)
}
