import ArgumentParser
import Foundation
import GRPCClient
import HoldingsProto
import ProtoCodec
import RPCCore

/// Exit statuses: 0 success; a failed call exits with its gRPC status code (3
/// INVALID_ARGUMENT, 5 NOT_FOUND, 7 PERMISSION_DENIED, 14 UNAVAILABLE, 16 UNAUTHENTICATED…);
/// 64 a bad command line; 69 a health check that is not SERVING.
public enum ExitStatus {
    public static let usage: Int32 = 64
    public static let notServing: Int32 = 69
}

/// Where holdingsd is and who is calling; shared by every subcommand.
public struct Connection: ParsableArguments {
    public init() {}

    @Option(name: .long, help: ArgumentHelp("holdingsd's gRPC address (env HOLDINGS_SERVER).", valueName: "host:port"))
    public var server: String = ProcessInfo.processInfo.environment["HOLDINGS_SERVER"] ?? "127.0.0.1:50051"

    @Option(name: .long, help: ArgumentHelp("File holding the bearer token (default: env HOLDINGS_TOKEN).", valueName: "file"))
    public var tokenFile: String?

    @Option(name: .long, help: ArgumentHelp("PEM CA of holdingsd's certificate: connect with TLS.", valueName: "file"))
    public var caFile: String?

    @Option(name: .long, help: "Seconds to wait for an answer.")
    public var timeout: Int = 30

    @Flag(name: .long, help: "Print proto3 JSON (one object per answer, one per line when streaming) instead of tables.")
    public var json = false

    public func channel() throws -> GRPCChannel {
        var configuration = ClientConfiguration()
        try configuration.useCredentials(tokenFile: tokenFile, caFile: caFile, certificateFile: nil, keyFile: nil)
        return try GRPCChannel(target: server, configuration: configuration)
    }

    public var options: CallOptions { CallOptions(timeout: .seconds(timeout)) }

    /// Runs `body` with a channel; a failed call prints its status and exits with its code.
    public func run(_ body: (GRPCChannel) async throws -> Void) async throws {
        let channel = try self.channel()
        defer { channel.close() }
        do {
            try await body(channel)
        } catch let error as RPCError {
            FileHandle.standardError.write(Data("holdings: \(error.code): \(error.message)\n".utf8))
            throw ExitCode(error.code.rawValue)
        }
    }

    /// Prints a message as proto3 JSON (pretty when `pretty`).
    public func printJSON(_ message: some ProtoJSONMessage, pretty: Bool = true) throws {
        let bytes = try message.jsonBytes()
        guard pretty, let object = try? JSONSerialization.jsonObject(with: Data(bytes)),
              let text = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else {
            emit(String(decoding: bytes, as: UTF8.self))
            return
        }
        emit(String(decoding: text, as: UTF8.self))
    }
}

/// Writes a line to stdout at once (flushed: a streaming command piped into another program
/// shows each answer as it comes, in order with the progress lines written beside it).
public func emit(_ line: String) {
    print(line)
    fflush(nil)
}

/// A plain text table: columns padded to their widest cell, numbers right-aligned.
public func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
    }
    func isNumber(_ text: String) -> Bool { !text.isEmpty && text.allSatisfy { $0.isNumber || $0 == "." || $0 == "-" } }
    func line(_ cells: [String]) -> String {
        let text = cells.enumerated().map { index, cell in
            let pad = String(repeating: " ", count: max(0, widths[index] - cell.count))
            return isNumber(cell) ? pad + cell : cell + pad
        }.joined(separator: "  ")
        return String(text.reversed().drop { $0 == " " }.reversed())
    }
    emit(line(header))
    emit(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
    for row in rows { emit(line(row)) }
}

/// A positive exact decimal given on the command line.
public func decimalArgument(_ text: String, _ name: String) throws -> String {
    guard text.range(of: "^[0-9]{1,15}(\\.[0-9]{1,10})?$", options: .regularExpression) != nil else {
        throw ValidationError("\(name) must be a decimal like 10 or 150.25, not \(text)")
    }
    return text
}

/// A cost-basis method a sale of the command line may name (SPECIFIC_ID needs lot ids: `call`).
public func saleMethod(_ name: String) throws -> Ultracore_Holdings_V1_CostBasisMethod {
    guard ["FIFO", "LIFO", "HIFO", "AVERAGE"].contains(name.uppercased()),
          let method = Ultracore_Holdings_V1_CostBasisMethod.allCases.first(where: { $0.protoName == name.uppercased() })
    else { throw ValidationError("--method is FIFO, LIFO, HIFO or AVERAGE, not \(name)") }
    return method
}

public func timeText(_ timestamp: Google_Protobuf_Timestamp?) -> String {
    guard let timestamp else { return "" }
    return RFC3339.format(seconds: timestamp.seconds, nanos: 0) ?? ""
}
