import Foundation
import HoldingsProto
import HoldingsProtoSamples
import ProtoCodec
import ProtoSampling
import Testing

/// The repository root (this file is Tests/ProtoCodecTests/InteropTests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Runs `python3 Tests/interop/samples.py ARGS`; returns its exit status and output.
func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", repositoryRoot.appendingPathComponent("Tests/interop/samples.py").path] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

func temporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("uc-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Decodes `bytes` as `type` and compares with the Swift sample of the same variant.
func matchesSample<T: ProtoSample>(_ type: T.Type, variant: Int, bytes: [UInt8]) -> String? {
    do {
        let decoded = try T(serializedBytes: bytes)
        return decoded == T.sample(variant: variant) ? nil : "\(T.protoMessageName)#\(variant): differs from the Swift sample"
    } catch {
        return "\(T.protoMessageName)#\(variant): \(error)"
    }
}

/// Our contract and the well-known types; the gRPC standard services (grpc.*) are
/// exercised by the grpcio clients against the server instead.
let pythonComparableTypes = allProtoSampleTypes.filter { !$0.protoMessageName.hasPrefix("grpc.") }

@Suite("Cross-language: Python protobuf and our Swift codec agree", .serialized)
struct InteropTests {
    @Test("Python encodes every message; Swift decodes the expected values")
    func pythonToSwift() throws {
        let directory = try temporaryDirectory("py2swift")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try runPython(["emit", directory.path])
        try #require(run.status == 0, "samples.py emit failed:\n\(run.output)")

        let types = Dictionary(uniqueKeysWithValues: pythonComparableTypes.map { ($0.protoMessageName, $0) })
        var failures: [String] = []
        var decodedTypes = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() where !file.hasPrefix("case.") {
            let parts = file.dropLast(".bin".count).split(separator: ".")
            let name = parts.dropLast().joined(separator: ".")
            guard let variant = Int(parts.last ?? ""), let type = types[name] else {
                failures.append("\(file): no Swift type")
                continue
            }
            let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent(file)))
            if let failure = matchesSample(type, variant: variant, bytes: bytes) { failures.append(failure) }
            decodedTypes.insert(name)
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(decodedTypes == Set(types.keys), "Python wrote no sample for \(Set(types.keys).subtracting(decodedTypes).sorted())")

        let position = try Ultracore_Holdings_V1_Position(
            serializedBytes: [UInt8](Data(contentsOf: directory.appendingPathComponent("case.unknown-enum-position.bin"))))
        #expect(position.status == .UNRECOGNIZED(42))
        #expect(position.positionId == "p-unknown-enum")
        let list = try Ultracore_Holdings_V1_ListEventsRequest(
            serializedBytes: [UInt8](Data(contentsOf: directory.appendingPathComponent("case.unknown-enum-list.bin"))))
        #expect(list.eventTypes == [.UNRECOGNIZED(99), .lotsSold, .UNRECOGNIZED(-7)])
    }

    @Test("Swift encodes every message; Python decodes the expected values")
    func swiftToPython() throws {
        let directory = try temporaryDirectory("swift2py")
        defer { try? FileManager.default.removeItem(at: directory) }
        func write<T: ProtoSample>(_ type: T.Type) throws {
            for variant in 0..<T.sampleVariants {
                let url = directory.appendingPathComponent("\(T.protoMessageName).\(variant).bin")
                try Data(T.sample(variant: variant).serializedBytes()).write(to: url)
            }
        }
        for type in pythonComparableTypes { try write(type) }
        var position = Ultracore_Holdings_V1_Position()
        position.positionId = "p-unknown-enum"
        position.status = .UNRECOGNIZED(42)
        try Data(position.serializedBytes()).write(to: directory.appendingPathComponent("case.unknown-enum-position.bin"))
        var list = Ultracore_Holdings_V1_ListEventsRequest()
        list.clientId = "c1"
        list.eventTypes = [.UNRECOGNIZED(99), .lotsSold, .UNRECOGNIZED(-7)]
        try Data(list.serializedBytes()).write(to: directory.appendingPathComponent("case.unknown-enum-list.bin"))

        let run = try runPython(["check", directory.path])
        #expect(run.status == 0, "Python found mismatches:\n\(run.output)")
        #expect(run.output.contains(" 0 mismatches"), "\(run.output)")
    }
}
