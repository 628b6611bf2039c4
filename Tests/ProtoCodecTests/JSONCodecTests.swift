import Foundation
import HoldingsProto
import HoldingsProtoSamples
import ProtoCodec
import ProtoSampling
import Testing

/// The sample's JSON, read back by our codec.
func jsonRoundTrip<T: ProtoSample>(_ type: T.Type, variant: Int) -> String? {
    guard let json = T.self as? any ProtoJSONMessage.Type else { return "\(T.protoMessageName): no JSON codec" }
    let sample = T.sample(variant: variant)
    do {
        guard let message = sample as? any ProtoJSONMessage else { return "\(T.protoMessageName): no JSON codec" }
        let bytes = try message.jsonBytes()
        let back = try json.init(jsonBytes: bytes, options: ProtoJSONOptions())
        return (back as? T) == sample ? nil : "\(T.protoMessageName)#\(variant): JSON round trip differs: \(String(decoding: bytes, as: UTF8.self))"
    } catch {
        return "\(T.protoMessageName)#\(variant): \(error)"
    }
}

func parseJSONSample<T: ProtoSample>(_ type: T.Type, variant: Int, text: [UInt8]) -> String? {
    guard let json = T.self as? any ProtoJSONMessage.Type else { return "\(T.protoMessageName): no JSON codec" }
    do {
        let parsed = try json.init(jsonBytes: text, options: ProtoJSONOptions())
        return (parsed as? T) == T.sample(variant: variant) ? nil : "\(T.protoMessageName)#\(variant): json_format's JSON reads as another message"
    } catch {
        return "\(T.protoMessageName)#\(variant): \(error)"
    }
}

func writeJSONSamples<T: ProtoSample>(_ type: T.Type, to directory: URL) throws {
    for variant in 0..<T.sampleVariants {
        guard let message = T.sample(variant: variant) as? any ProtoJSONMessage else { continue }
        try Data(message.jsonBytes()).write(to: directory.appendingPathComponent("\(T.protoMessageName).\(variant).json"))
    }
}

@Suite("proto3 JSON: our generated codecs agree with Python protobuf's json_format", .serialized)
struct JSONCodecTests {
    @Test("Every sample round-trips through JSON")
    func roundTrip() {
        var failures: [String] = []
        for type in allProtoSampleTypes {
            for variant in 0..<type.sampleVariants {
                if let failure = jsonRoundTrip(type, variant: variant) { failures.append(failure) }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test("json_format's JSON of every sample reads as the Swift sample")
    func pythonToSwift() throws {
        let directory = try temporaryDirectory("pyjson2swift")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try runPython(["json-emit", directory.path])
        try #require(run.status == 0, "samples.py json-emit failed:\n\(run.output)")
        let types = Dictionary(uniqueKeysWithValues: pythonComparableTypes.map { ($0.protoMessageName, $0) })
        var failures: [String] = []
        var seen = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() {
            let parts = file.dropLast(".json".count).split(separator: ".")
            let name = parts.dropLast().joined(separator: ".")
            guard let variant = Int(parts.last ?? ""), let type = types[name] else {
                failures.append("\(file): no Swift type")
                continue
            }
            let text = [UInt8](try Data(contentsOf: directory.appendingPathComponent(file)))
            if let failure = parseJSONSample(type, variant: variant, text: text) { failures.append(failure) }
            seen.insert(name)
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(seen == Set(types.keys), "Python wrote no JSON for \(Set(types.keys).subtracting(seen).sorted())")
    }

    @Test("Our JSON of every sample equals json_format's and reads back in Python")
    func swiftToPython() throws {
        let directory = try temporaryDirectory("swiftjson2py")
        defer { try? FileManager.default.removeItem(at: directory) }
        for type in pythonComparableTypes { try writeJSONSamples(type, to: directory) }
        let run = try runPython(["json-check", directory.path])
        #expect(run.status == 0, "Python found mismatches:\n\(run.output)")
        #expect(run.output.contains(" 0 mismatches"), "\(run.output)")
    }

    @Test("Hostile and unusual JSON gets a precise error or the canonical reading")
    func edges() throws {
        typealias Open = Ultracore_Holdings_V1_OpenPositionRequest
        func failure(_ text: String, ignore: Bool = false) -> String? {
            do {
                _ = try Open(jsonBytes: Array(text.utf8), options: ProtoJSONOptions(ignoreUnknownFields: ignore))
                return nil
            } catch {
                return error.description
            }
        }
        // Both names, int as string or number, timestamps with offsets.
        let open = try Open(jsonBytes: Array(#"{"client_id":"c1","ticker":"AAPL","maxLots":"7","tradeTime":"2026-01-31T10:30:00.5+01:00"}"#.utf8))
        #expect(open.clientId == "c1" && open.maxLots == 7)
        #expect(open.tradeTime?.seconds == 1_769_851_800 && open.tradeTime?.nanos == 500_000_000)
        #expect(failure(#"{"clientId":"c1","bogus":1}"#)?.contains("field bogus is not a field of ultracore.holdings.v1.OpenPositionRequest") == true)
        #expect(failure(#"{"clientId":"c1","bogus":1}"#, ignore: true) == nil)
        #expect(failure(#"{"clientId":"c1","client_id":"c2"}"#)?.contains("twice") == true)
        #expect(failure(#"{"maxLots":2147483648}"#)?.contains("field maxLots is out of range for int32") == true)
        #expect(failure(#"{"maxLots":1.5}"#)?.contains("whole number") == true)
        #expect(failure(#"{"maxLots":true}"#)?.contains("must be an integer") == true)
        #expect(failure(#"{"clientId":7}"#)?.contains("field clientId must be a string") == true)
        #expect(failure(#"{"clientId":"a\u0000b"}"#)?.contains("field clientId holds the character U+0000") == true)
        #expect(failure(#"{"tradeTime":"2026-02-30T00:00:00Z"}"#)?.contains("field tradeTime is not an RFC 3339") == true)
        #expect(failure(#"{"tradeTime":"10000-01-01T00:00:00Z"}"#) != nil)
        #expect(failure(#"{"clientId":"c1""#)?.contains("not valid JSON") == true)
        #expect(failure(#"[1,2]"#)?.contains("must be an object") == true)
        typealias Events = Ultracore_Holdings_V1_ListEventsRequest
        let events = try Events(jsonBytes: Array(#"{"eventTypes":["LOTS_SOLD", 99]}"#.utf8))
        #expect(events.eventTypes == [.lotsSold, .UNRECOGNIZED(99)])
        #expect((try? Events(jsonBytes: Array(#"{"eventTypes":["NOPE"]}"#.utf8))) == nil)
        #expect((try? Events(jsonBytes: Array(#"{"eventTypes":[null]}"#.utf8))) == nil)
        #expect(try Events(jsonBytes: Array(#"{"eventTypes":["NOPE","LOTS_SOLD"]}"#.utf8), options: ProtoJSONOptions(ignoreUnknownFields: true)).eventTypes == [.lotsSold])
        // Strings with every escape survive a round trip.
        var text = Open()
        text.clientId = "quote\" backslash\\ newline\n tab\t bell\u{07} é€😀"
        #expect(try Open(jsonBytes: text.jsonBytes()) == text)
        // A Timestamp JSON cannot carry fails the writer, not the process.
        var far = Open()
        far.tradeTime = Google_Protobuf_Timestamp()
        far.tradeTime?.seconds = -70_000_000_000
        #expect(throws: ProtoJSONError.self) { try far.jsonBytes() }
        // Deep nesting is refused by the parser, not a stack overflow.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(failure(deep) != nil)
    }
}
