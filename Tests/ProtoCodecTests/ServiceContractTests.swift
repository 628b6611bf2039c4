import Foundation
import HoldingsProto
import ProtoCodec
import RPCCore
import Testing

/// The services and methods of the contract, in order (ContractMethods.txt beside this
/// file, kept in the repository: the project reads nothing outside it).
func contractMethods() throws -> [String: [String]] {
    let url = repositoryRoot.appendingPathComponent("Tests/ProtoCodecTests/ContractMethods.txt")
    let text = try String(contentsOf: url, encoding: .utf8)
    var result: [String: [String]] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { continue }
        result[String(parts[0])] = parts[1].split(separator: " ").map(String.init)
    }
    return result
}

@Suite("Service descriptors and protocols")
struct ServiceContractTests {
    static let services: [ServiceDescriptor] = [
        Ultracore_Holdings_V1_HoldingsService.descriptor, Ultracore_Holdings_V1_CostBasisService.descriptor,
        Ultracore_Holdings_V1_AnalyticsService.descriptor, Ultracore_Holdings_V1_RebalancingService.descriptor,
        Ultracore_Holdings_V1_DataMeshService.descriptor, Ultracore_Holdings_V1_AgentService.descriptor,
    ]

    @Test("every service and method of the contract is in the generated descriptors")
    func matchesAPI() throws {
        let contract = try contractMethods()
        #expect(contract.count == 6)
        for service in Self.services {
            let short = String(service.name.split(separator: ".").last!)
            let expected = try #require(contract[short], "ContractMethods.txt has no \(short)")
            #expect(service.methods.map(\.method) == expected)
            for method in service.methods {
                #expect(method.path == "/\(service.name)/\(method.method)")
                #expect(method.requestType == "ultracore.holdings.v1.\(method.method)Request")
                // TrainPolicy streams its progress; the result rides on the last message.
                let response = method.method == "TrainPolicy" ? "TrainPolicyProgress" : "\(method.method)Response"
                #expect(method.responseType == "ultracore.holdings.v1.\(response)")
            }
        }
        #expect(Ultracore_Holdings_V1_HoldingsService.Method.openPosition.descriptor.path
            == "/ultracore.holdings.v1.HoldingsService/OpenPosition")
        #expect(Ultracore_Holdings_V1_HoldingsService.Method.watchEvents.descriptor.kind == .serverStreaming)
        #expect(Self.services.flatMap(\.methods).filter { $0.kind != .unary }.map(\.method) == ["WatchEvents", "TrainPolicy"])
        #expect(Ultracore_Holdings_V1_AgentService.Method.trainPolicy.descriptor.kind == .serverStreaming)
    }

    @Test("every service, method, message, field and enum value of proto/ has a comment")
    func everythingDocumented() throws {
        let run = try runPython(["comments"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("0 undocumented elements"), "\(run.output)")
    }

    /// A DataMeshService that answers from fixed data, to drive the generated handlers.
    struct FixedDataMesh: Ultracore_Holdings_V1_DataMeshService.ServiceProtocol {
        func getDataQuality(request: Ultracore_Holdings_V1_GetDataQualityRequest, context: ServerContext) async throws
            -> Ultracore_Holdings_V1_GetDataQualityResponse
        {
            guard !request.clientId.isEmpty else { throw RPCError(.invalidArgument, "client_id is required") }
            var response = Ultracore_Holdings_V1_GetDataQualityResponse()
            response.score = Int32(request.clientId.count)
            return response
        }

        func getLineage(request: Ultracore_Holdings_V1_GetLineageRequest, context: ServerContext) async throws
            -> Ultracore_Holdings_V1_GetLineageResponse
        {
            Ultracore_Holdings_V1_GetLineageResponse()
        }

        func listMaterializedViews(request: Ultracore_Holdings_V1_ListMaterializedViewsRequest, context: ServerContext)
            async throws -> Ultracore_Holdings_V1_ListMaterializedViewsResponse
        {
            Ultracore_Holdings_V1_ListMaterializedViewsResponse()
        }

        func listDataProducts(request: Ultracore_Holdings_V1_ListDataProductsRequest, context: ServerContext)
            async throws -> Ultracore_Holdings_V1_ListDataProductsResponse
        {
            Ultracore_Holdings_V1_ListDataProductsResponse()
        }

        func getPortfolioAsOf(request: Ultracore_Holdings_V1_GetPortfolioAsOfRequest, context: ServerContext)
            async throws -> Ultracore_Holdings_V1_GetPortfolioAsOfResponse
        {
            Ultracore_Holdings_V1_GetPortfolioAsOfResponse()
        }

        func diffPosition(request: Ultracore_Holdings_V1_DiffPositionRequest, context: ServerContext)
            async throws -> Ultracore_Holdings_V1_DiffPositionResponse
        {
            Ultracore_Holdings_V1_DiffPositionResponse()
        }

        func listQuarantinedRecords(request: Ultracore_Holdings_V1_ListQuarantinedRecordsRequest, context: ServerContext)
            async throws -> Ultracore_Holdings_V1_ListQuarantinedRecordsResponse
        {
            Ultracore_Holdings_V1_ListQuarantinedRecordsResponse()
        }
    }

    /// Runs a raw handler with the given request messages; returns the response messages.
    func call(_ handler: ServerMethodHandler, _ messages: [[UInt8]]) async throws -> [[UInt8]] {
        final class Box: @unchecked Sendable {  // confined to this test's single task
            var pending: [[UInt8]]
            var written: [[UInt8]] = []
            init(_ pending: [[UInt8]]) { self.pending = pending }
        }
        let box = Box(messages)
        let requests = RequestStream<[UInt8]> { box.pending.isEmpty ? nil : box.pending.removeFirst() }
        let responses = ResponseWriter<[UInt8]> { message, _ in box.written.append(message) }
        try await handler.handle(requests, responses, ServerContext(method: handler.method))
        return box.written
    }

    @Test("generated handlers decode requests, call the implementation and encode responses")
    func handlers() async throws {
        let handlers = FixedDataMesh().methodHandlers
        #expect(handlers.map(\.method.method) == ["GetDataQuality", "GetLineage", "ListMaterializedViews", "ListDataProducts",
                                                   "GetPortfolioAsOf", "DiffPosition", "ListQuarantinedRecords"])
        #expect(FixedDataMesh().serviceDescriptor.protoFile == "ultracore/holdings/v1/data_mesh.proto")
        var request = Ultracore_Holdings_V1_GetDataQualityRequest()
        request.clientId = "client-42"
        let responses = try await call(handlers[0], [request.serializedBytes()])
        #expect(responses.count == 1)
        #expect(try Ultracore_Holdings_V1_GetDataQualityResponse(serializedBytes: responses[0]).score == 9)

        await #expect(throws: RPCError(.invalidArgument, "client_id is required")) {
            _ = try await call(handlers[0], [Ultracore_Holdings_V1_GetDataQualityRequest().serializedBytes()])
        }
        do {
            _ = try await call(handlers[0], [[0x0a, 0x02, 0xff, 0xfe]])
            Issue.record("undecodable request accepted")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("ultracore.holdings.v1.GetDataQualityRequest.client_id"))
        }
        await #expect(throws: RPCError.self) { _ = try await call(handlers[0], []) }
        await #expect(throws: RPCError.self) { _ = try await call(handlers[0], [[], []]) }
    }
}
