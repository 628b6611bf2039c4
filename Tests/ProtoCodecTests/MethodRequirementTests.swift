import Foundation
import Security
import Testing

/// The access requirement table (Sources/Security/MethodRequirement.swift) against the
/// contract's method list, read by `contractMethods()` beside it.
@Suite("Access requirements")
struct MethodRequirementTests {
    @Test("every method of the contract has exactly one declared requirement, and the table names no other")
    func requirementTableMatchesTheContract() throws {
        let contract = try contractMethods()
        #expect(contract.count == 6)
        for (service, methods) in contract {
            let declared = try #require(MethodRequirements.contract[service], "no requirements for \(service)")
            #expect(Set(declared.keys) == Set(methods), "\(service): declared \(declared.keys.sorted()), contract \(methods)")
            for method in methods {
                #expect(MethodRequirements.byPath["/ultracore.holdings.v1.\(service)/\(method)"] != nil)
            }
        }
        #expect(Set(MethodRequirements.contract.keys) == Set(contract.keys))
        #expect(MethodRequirements.byPath["/grpc.health.v1.Health/Check"] == .open)
        #expect(MethodRequirements.byPath["/ultracore.holdings.v1.HoldingsService/PublishPrices"] == .scope("prices:publish"))
        // Writes are audited whatever their outcome: every clients:write method and the scoped ones that change data.
        let writes = Set(MethodRequirements.writes.map { $0.split(separator: "/").last.map(String.init) ?? "" })
        #expect(writes == ["OpenPosition", "ClosePosition", "UpdatePositionValue", "PublishPrices", "ApplyCorporateAction", "SellLots",
                           "EvaluateRebalancing", "ExecuteRebalancing", "ScheduleRebalancing", "TrainPolicy", "AcknowledgeAlert"])
    }
}
