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
//   HTTP2 → GRPCServer    nghttp2 session wrapper, gRPC server on epoll loops
//   StandardServices      grpc.health.v1 and the placeholder for services not built yet

let package = Package(
    name: "UltraCoreHoldings",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "holdingsd", targets: ["holdingsd"]),
        .executable(name: "holdings-protogen", targets: ["holdings-protogen"]),
        .library(name: "HoldingsProto", targets: ["HoldingsProto"]),
        .library(name: "HoldingsProtoSamples", targets: ["HoldingsProtoSamples", "ProtoSampling"]),
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

        // Generated C codecs (protoc-c), committed.
        .target(name: "HoldingsProtoC", dependencies: ["CProtobufC"], path: "Generated/c"),
        .target(name: "CProtoDescriptor", dependencies: ["CProtobufC"], path: "Generated/descriptor"),

        .target(name: "ProtoCodec", dependencies: ["CProtobufC"]),
        .target(name: "RPCCore", dependencies: ["ProtoCodec"]),
        .target(
            name: "HoldingsProto",
            dependencies: ["ProtoCodec", "RPCCore", "CProtobufC", "HoldingsProtoC"],
            path: "Generated/swift"),

        // Deterministic fully-populated samples of every message, for tests and benchmarks.
        .target(name: "ProtoSampling", dependencies: ["ProtoCodec"]),
        .target(name: "HoldingsProtoSamples", dependencies: ["HoldingsProto", "ProtoSampling"], path: "Generated/swift-samples"),

        // gRPC over HTTP/2: the nghttp2 layer, then the server on epoll loops.
        .target(name: "HTTP2", dependencies: ["CNGHTTP2"]),
        .target(name: "GRPCServer", dependencies: ["CLinux", "HTTP2", "RPCCore"]),
        .target(name: "StandardServices", dependencies: ["HoldingsProto", "RPCCore"]),

        .target(name: "NativeLibraries", dependencies: ["CNGHTTP2", "CProtobufC", "CRDKafka", "CLibPQ", "COpenSSL"]),

        .executableTarget(name: "holdings-protogen", dependencies: ["CProtoDescriptor", "CProtobufC"]),
        .executableTarget(name: "holdingsd", dependencies: ["HoldingsProto", "NativeLibraries", "GRPCServer", "StandardServices"]),

        .testTarget(
            name: "ProtoCodecTests",
            dependencies: ["ProtoCodec", "RPCCore", "HoldingsProto", "HoldingsProtoSamples", "ProtoSampling"]),
    ],
    swiftLanguageModes: [.v6]
)
