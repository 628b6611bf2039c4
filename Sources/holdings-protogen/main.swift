import Foundation

/// holdings-protogen: generates the Swift side of our protobuf-c codecs.
///
///     holdings-protogen --descriptor-set SET.pb --c-module HoldingsProtoC \
///         --swift-out Generated/swift [--samples-out Generated/swift-samples] [--registry NAME]
///
/// SET.pb is protoc's `--descriptor_set_out --include_imports --include_source_info`
/// output for the files to generate; every file in it gets a Swift file.

struct Options {
    var descriptorSet = ""
    var cModule = ""
    var swiftOut = ""
    var samplesOut: String?
    /// Name of the enum listing the set's files for reflection (written to swift-out).
    var registry: String?
    /// Emit proto3 JSON codecs (`*.json.swift`) and their registry.
    var json = false
    /// Name of the enum holding the REST routes, Connect methods and OpenAPI document.
    var routes: String?
    var openAPIOut: String?
    /// Name of the enum of the command line's typed commands, and where it is written.
    var cli: String?
    var cliOut: String?
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
        return value
    }
    while let argument = arguments.popFirst() {
        switch argument {
        case "--descriptor-set": options.descriptorSet = value(argument)
        case "--c-module": options.cModule = value(argument)
        case "--swift-out": options.swiftOut = value(argument)
        case "--samples-out": options.samplesOut = value(argument)
        case "--registry": options.registry = value(argument)
        case "--json": options.json = true
        case "--routes": options.routes = value(argument)
        case "--openapi-out": options.openAPIOut = value(argument)
        case "--cli": options.cli = value(argument)
        case "--cli-out": options.cliOut = value(argument)
        default: fail("unknown argument \(argument)")
        }
    }
    if options.descriptorSet.isEmpty || options.cModule.isEmpty || options.swiftOut.isEmpty {
        fail("usage: holdings-protogen --descriptor-set SET.pb --c-module MODULE --swift-out DIR [--samples-out DIR] [--registry NAME] [--json] [--routes NAME] [--openapi-out FILE] [--cli NAME --cli-out DIR]")
    }
    return options
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("holdings-protogen: \(message)\n".utf8))
    exit(2)
}

func outputName(_ protoFile: String, suffix: String) -> String {
    protoFile.replacingOccurrences(of: ".proto", with: "").replacingOccurrences(of: "/", with: "_") + suffix
}

func write(_ text: String, to directory: String, name: String) {
    let url = URL(fileURLWithPath: directory).appendingPathComponent(name)
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    } catch {
        fail("cannot write \(url.path): \(error)")
    }
}

let options = parseOptions()
guard let data = FileManager.default.contents(atPath: options.descriptorSet) else {
    fail("cannot read \(options.descriptorSet)")
}
let files: [ProtoFile]
do {
    files = try DescriptorReader.read([UInt8](data))
} catch {
    fail("\(options.descriptorSet): \(error)")
}
let emitter = SwiftEmitter(files: files, cModule: options.cModule)
let typedFiles = files.filter(\.generatesTypes)
for file in typedFiles {
    write(emitter.emit(file), to: options.swiftOut, name: outputName(file.name, suffix: ".pb.swift"))
}
if options.json {
    let json = JSONEmitter(swift: emitter)
    for file in typedFiles {
        write(json.emit(file), to: options.swiftOut, name: outputName(file.name, suffix: ".json.swift"))
    }
    write(json.emitRegistry(typedFiles, name: "HoldingsProtoJSON"), to: options.swiftOut, name: "HoldingsProtoJSON.swift")
}
if let routes = options.routes {
    let emitter = RoutesEmitter(swift: emitter, files: files)
    write(emitter.emitSwift(name: routes), to: options.swiftOut, name: "\(routes).swift")
    if let path = options.openAPIOut {
        let url = URL(fileURLWithPath: path)
        write(emitter.openAPIText() + "\n", to: url.deletingLastPathComponent().path, name: url.lastPathComponent)
    }
}
if let cli = options.cli, let directory = options.cliOut {
    let emitter = CLIEmitter(swift: emitter, routes: RoutesEmitter(swift: emitter, files: files))
    write(emitter.emitSwift(name: cli), to: directory, name: "\(cli).swift")
}
if let registry = options.registry {
    write(emitter.emitRegistry(files, name: registry), to: options.swiftOut, name: "\(registry).swift")
}
if let samplesOut = options.samplesOut {
    let samples = SamplesEmitter(swift: emitter)
    for file in typedFiles {
        write(samples.emit(file), to: samplesOut, name: outputName(file.name, suffix: ".samples.swift"))
    }
    write(samples.emitRegistry(typedFiles), to: samplesOut, name: "AllSamples.swift")
}
