import Domain
import Foundation
import HoldingsProto
import Testing

/// Schema evolution on the Swift side: every stored event of Tests/Fixtures/events-schema-N.txt
/// decodes with today's codec, re-encodes to an event equal to itself, carries the payload of
/// its type, and a recorded one is judged by today's quality rules as it was when it was
/// written (its envelope's score and failed rules).
@Suite struct SchemaEvolutionTests {
    struct Stored {
        var version: Int
        var type: String
        var origin: String
        var body: [UInt8]
    }

    static func stored() throws -> [Stored] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
        var found: [Stored] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        where name.hasPrefix("events-schema-") && name.hasSuffix(".txt") {
            let version = Int(name.dropFirst("events-schema-".count).dropLast(".txt".count)) ?? -1
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                guard parts.count == 3, let body = Data(base64Encoded: String(parts[2])) else {
                    Issue.record("malformed fixture line in \(name)")
                    continue
                }
                found.append(Stored(version: version, type: String(parts[0]), origin: String(parts[1]), body: Array(body)))
            }
        }
        return found
    }

    @Test func everyStoredEventDecodesWithTodaysCodec() throws {
        let stored = try Self.stored()
        #expect(stored.count >= 14)
        for item in stored {
            let event = try Ultracore_Holdings_V1_Event(serializedBytes: item.body)
            #expect(Int(event.schemaVersion) == item.version)
            #expect(event.eventType.protoName == item.type, "\(item.type)")
            #expect(try Ultracore_Holdings_V1_Event(serializedBytes: event.serializedBytes()) == event, "\(item.type)")
            let assessment = DataQuality.assess(event, ingestedAt: event.occurredAt.flatMap(Instant.init) ?? Instant(microseconds: 0))
            #expect(!assessment.failed.contains("envelope_complete"), "\(item.type): \(assessment.details)")
            if item.origin == "recorded" {
                #expect(assessment.score == event.qualityScore && assessment.failed == event.failedQualityRules,
                        "\(item.type): \(assessment.details)")
            }
        }
    }
}
