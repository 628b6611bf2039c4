// swift-tools-version: 6.1
import PackageDescription

// UltraCore Holdings: the holdings/positions service.
//
// Layers, bottom up:
//   C*                    system libraries (pkg-config): nghttp2, protobuf-c, rdkafka, libpq, OpenSSL
//   HoldingsProtoC        protoc-c output for proto/ (Generated/c)
//   ProtoCodec            Swift over protobuf-c: messages, enums, arena, decode errors
//   RPCCore               call-level types: method descriptors, status, contexts, handlers
//   HoldingsProto         generated Swift types and service protocols (Generated/swift)
//   holdings-protogen     our generator of HoldingsProto (reads protoc descriptor sets)
//   HTTP2                 nghttp2 sessions (server and client), manual flow control
//   GRPCTransport         epoll loops, sockets and TLS (OpenSSL), gRPC framing, gzip (zlib)
//   GRPCServer/GRPCClient the gRPC server and the client channel
//   StandardServices      grpc.health.v1, grpc.reflection v1/v1alpha
//   GRPCTestingProto      grpc.testing interop protos; InteropService implements TestService
//   Domain                pure domain: exact decimals, positions and lots, command decisions
//   Learning              the DQN portfolio policy, bit-reproducible by seed (pure Swift, no ML framework)
//   EventLog              librdkafka: idempotent producer, projector consumer, embedded mock broker
//   Store                 libpq: connection, versioned SQL migrations, and the event store (EventStore/): every
//                         statement of the audit trail, read models, offsets, dead letters and request records
//   Services              RPC handlers over the write model, the projector, backpressure, metrics
//   MetricsServer         GET /metrics over HTTP/1.1 (Hummingbird)
//   HTTPGateway           REST/JSON and Connect over HTTP/1.1 and HTTP/2, calling the same handlers (Hummingbird)

let package = Package(
    name: "UltraCoreHoldings",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "holdingsd", targets: ["holdingsd"]),
        .executable(name: "holdings-protogen", targets: ["holdings-protogen"]),
        .executable(name: "holdings-broker", targets: ["holdings-broker"]),
        .executable(name: "holdings-load", targets: ["holdings-load"]),
        .executable(name: "holdings-token", targets: ["holdings-token"]),
        .executable(name: "holdings-policy", targets: ["holdings-policy"]),
        .executable(name: "holdings-mcp", targets: ["holdings-mcp"]),
        .executable(name: "holdings", targets: ["holdings-cli"]),
        .executable(name: "interop-server", targets: ["interop-server"]),
        .executable(name: "interop-client", targets: ["interop-client"]),
        .library(name: "GRPCClient", targets: ["GRPCClient"]),
        .library(name: "HoldingsProto", targets: ["HoldingsProto"]),
        .library(name: "HoldingsProtoSamples", targets: ["HoldingsProtoSamples", "ProtoSampling"]),
    ],
    dependencies: [
        // JWT parsing and signature checks (HS256/RS256/ES256, JWKS): security code we do not write ourselves.
        .package(url: "https://github.com/vapor/jwt-kit.git", .upToNextMinor(from: "5.7.1")),
        // X.509 parsing of a verified client certificate (SAN URI, subject CN).
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        // Prometheus text exposition of the service's metrics (counters, gauges, histograms).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The HTTP/1.1 server of the metrics endpoint (and of the REST front to come): we do
        // not write an HTTP/1.1 parser.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // Hummingbird's logger (already in its graph): quieted so its lines stay out of ours.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // The holdings command line: subcommands, options, help and shell completion.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // CSV files of the command line (transactions to import, return series).
        .package(url: "https://github.com/swiftcsv/SwiftCSV.git", from: "0.10.0"),
        // The Model Context Protocol server of holdings-mcp (stdio and streamable HTTP).
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", exact: "0.12.1"),
        // The channel type of Hummingbird's server callbacks (SwiftNIO, already in its graph).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // HTTP field types of Hummingbird's requests (already in its graph).
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // The five C libraries of the shape.
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CRDKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // Linux headers Glibc's module leaves out (epoll, eventfd, sockets).
        .systemLibrary(name: "CLinux"),
        // gzip message compression (grpc-encoding: gzip).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Generated C codecs (protoc-c), committed.
        .target(name: "HoldingsProtoC", dependencies: ["CProtobufC"], path: "Generated/c"),
        .target(name: "CProtoDescriptor", dependencies: ["CProtobufC"], path: "Generated/descriptor"),
        .target(name: "GRPCTestingProtoC", dependencies: ["CProtobufC"], path: "Generated/testing-c"),

        .target(name: "ProtoCodec", dependencies: ["CProtobufC"]),
        .target(name: "RPCCore", dependencies: ["ProtoCodec"]),
        .target(
            name: "HoldingsProto",
            dependencies: ["ProtoCodec", "RPCCore", "CProtobufC", "HoldingsProtoC"],
            path: "Generated/swift"),

        .target(
            name: "GRPCTestingProto",
            dependencies: ["ProtoCodec", "RPCCore", "CProtobufC", "GRPCTestingProtoC"],
            path: "Generated/testing-swift"),

        // Deterministic fully-populated samples of every message, for tests and benchmarks.
        .target(name: "ProtoSampling", dependencies: ["ProtoCodec"]),
        .target(name: "HoldingsProtoSamples", dependencies: ["HoldingsProto", "ProtoSampling"], path: "Generated/swift-samples"),

        // gRPC over HTTP/2: the nghttp2 layer, then the server on epoll loops.
        .target(name: "HTTP2", dependencies: ["CNGHTTP2"]),
        .target(name: "GRPCTransport", dependencies: ["CLinux", "COpenSSL", "CZlib", "HTTP2", "RPCCore"]),
        .target(name: "GRPCServer", dependencies: ["CLinux", "HTTP2", "GRPCTransport", "RPCCore"]),
        .target(name: "GRPCClient", dependencies: ["CLinux", "HTTP2", "GRPCTransport", "RPCCore"]),
        .target(name: "StandardServices", dependencies: ["HoldingsProto", "RPCCore"]),
        // Who calls and what they may do: bearer tokens (JWT), client certificates, scopes,
        // the method requirement table, the audit log.
        .target(
            name: "Security",
            dependencies: ["RPCCore", .product(name: "JWTKit", package: "jwt-kit"), .product(name: "X509", package: "swift-certificates")]),

        // Conformance: grpc.testing.TestService, its server and our interop client.
        .target(name: "InteropService", dependencies: ["GRPCTestingProto", "RPCCore"]),
        .executableTarget(
            name: "interop-server",
            dependencies: ["InteropService", "GRPCServer", "GRPCTransport", "StandardServices", "GRPCTestingProto", "HoldingsProto"]),
        .executableTarget(name: "interop-client", dependencies: ["GRPCClient", "GRPCTestingProto", "RPCCore"]),

        .target(name: "NativeLibraries", dependencies: ["CNGHTTP2", "CProtobufC", "CRDKafka", "CLibPQ", "COpenSSL"]),

        // The domain (pure), the event log (librdkafka), the store (libpq), the services.
        .target(name: "Domain", dependencies: ["HoldingsProto"]),
        // The DQN portfolio policy: network, Adam, replay, environment, evaluation (pure Swift).
        .target(name: "Learning"),
        .target(name: "EventLog", dependencies: ["CRDKafka"]),
        .target(name: "Store", dependencies: ["CLibPQ", "Domain", "HoldingsProto", "EventLog", "RPCCore"], resources: [.copy("Migrations")]),
        .target(name: "Services", dependencies: ["Domain", "Learning", "EventLog", "Store", "HoldingsProto", "RPCCore", "Security", "COpenSSL", "GRPCClient",
                                                 .product(name: "Prometheus", package: "swift-prometheus")]),
        // The HTTP/1.1 side door: GET /metrics in Prometheus text format (Hummingbird).
        .target(name: "MetricsServer", dependencies: ["Services", "HTTPGateway", .product(name: "Hummingbird", package: "hummingbird")]),
        // REST/JSON (google.api.http routes) and the Connect protocol over the same handlers,
        // HTTP/1.1 and cleartext HTTP/2 (Hummingbird).
        .target(name: "HTTPGateway", dependencies: ["GRPCServer", "GRPCTransport", "HoldingsProto", "RPCCore", "ProtoCodec",
                                                    .product(name: "Hummingbird", package: "hummingbird"),
                                                    .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                                                    .product(name: "HTTPTypes", package: "swift-http-types"),
                                                    .product(name: "NIOCore", package: "swift-nio"),
                                                    .product(name: "Logging", package: "swift-log")]),
        // The holdings command line over holdingsd's gRPC API: its support code (connection,
        // request building, tables), the generated command of every method (Generated/cli), and
        // the executable with the workflows (import, report, training, price batches).
        .target(name: "HoldingsCLIKit", dependencies: ["GRPCClient", "HoldingsProto", "ProtoCodec", "RPCCore",
                                                      .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "HoldingsCLICommands", dependencies: ["HoldingsCLIKit", "HoldingsProto",
                                                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
                path: "Generated/cli"),
        .executableTarget(name: "holdings-cli", dependencies: ["HoldingsCLIKit", "HoldingsCLICommands", "GRPCClient", "HoldingsProto", "ProtoCodec", "RPCCore",
                                                               .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                               .product(name: "SwiftCSV", package: "SwiftCSV")]),
        // The MCP server: ten tools for assistants over holdingsd's gRPC API (stdio, streamable HTTP).
        .executableTarget(name: "holdings-mcp", dependencies: ["GRPCClient", "HoldingsProto", "ProtoCodec", "RPCCore",
                                                               .product(name: "MCP", package: "swift-sdk"),
                                                               .product(name: "Hummingbird", package: "hummingbird"),
                                                               .product(name: "HTTPTypes", package: "swift-http-types"),
                                                               .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "holdings-broker", dependencies: ["EventLog"]),
        .executableTarget(name: "holdings-load", dependencies: ["EventLog", "GRPCClient", "HoldingsProto", "RPCCore", "Store"]),
        .executableTarget(name: "holdings-bench", dependencies: ["GRPCClient", "HoldingsProto", "RPCCore"]),
        .executableTarget(name: "holdings-policy", dependencies: ["Learning"]),

        .executableTarget(name: "holdings-token", dependencies: ["Security"]),
        .executableTarget(name: "holdings-protogen", dependencies: ["CProtoDescriptor", "CProtobufC"]),
        .executableTarget(
            name: "holdingsd",
            dependencies: ["HoldingsProto", "NativeLibraries", "GRPCServer", "GRPCClient", "GRPCTransport", "StandardServices", "Services", "EventLog", "Store", "Security",
                           "MetricsServer", "HTTPGateway"]),

        .testTarget(
            name: "ProtoCodecTests",
            dependencies: ["ProtoCodec", "RPCCore", "HoldingsProto", "HoldingsProtoSamples", "ProtoSampling", "Security"],
            exclude: ["ContractMethods.txt"]),
        .testTarget(name: "TransportTests", dependencies: ["GRPCTransport", "RPCCore"]),
        .testTarget(name: "DomainTests", dependencies: ["Domain", "HoldingsProto"]),
        .testTarget(name: "LearningTests", dependencies: ["Learning"]),
        .testTarget(name: "SecurityTests", dependencies: ["Security", "RPCCore"]),
        .testTarget(name: "ServicesTests", dependencies: ["Services", "Domain", "EventLog", "Store", "HoldingsProto", "RPCCore"]),
    ],
    swiftLanguageModes: [.v6]
)
