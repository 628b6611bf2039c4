import Foundation

/// Emits the `holdings` command line's typed command of every method: one
/// swift-argument-parser command per RPC, one option per request field (named by the
/// field, helped by its proto comment), and the shapes of the messages, by which answers are
/// printed as tables in declaration order.
///
/// Each command gathers its options into a proto3 JSON object (on top of `--request`, the
/// whole request as JSON) and HoldingsCLIKit's `MethodCommand` decodes it with the generated
/// JSON codec, so one reader checks every value, and its errors name the option.
struct CLIEmitter {
    let swift: SwiftEmitter
    let routes: RoutesEmitter

    /// Options every command already has (HoldingsCLIKit's `Connection` and `RequestInput`).
    static let reservedOptions: Set<String> = ["server", "token-file", "ca-file", "timeout", "json", "request", "help"]

    /// `OpenPosition` → `open-position`.
    static func kebab(_ camel: String) -> String {
        CNames.camelToLower(camel).replacingOccurrences(of: "_", with: "-")
    }

    /// A field's option name: its proto name in kebab case (`client_id` → `client-id`).
    static func optionName(_ field: Field) -> String {
        let name = field.name.replacingOccurrences(of: "_", with: "-")
        return reservedOptions.contains(name) ? name + "-field" : name
    }

    /// A Swift string literal.
    static func literal(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 { result += "\\u{\(String(scalar.value, radix: 16))}" } else { result.unicodeScalars.append(scalar) }
            }
        }
        return result + "\""
    }

    /// The first sentence of a comment's first paragraph, on one line.
    func abstract(_ comment: String) -> String {
        let paragraph = routes.description(comment).components(separatedBy: "\n\n").first ?? ""
        let text = paragraph.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        if let end = text.range(of: ". ") { return String(text[..<end.lowerBound]) + "." }
        return text
    }

    /// How a field at its default value is printed (proto3 JSON leaves it out): numbers as 0,
    /// bools as false, enums by their zero value; nil for strings, bytes, messages and lists.
    func zeroText(_ field: Field) -> String? {
        guard !field.repeated else { return nil }
        switch field.type {
        case .scalar(.bool): return "false"
        case .scalar(.string), .scalar(.bytes), .message: return nil
        case .scalar: return "0"
        case .enumeration(let type):
            let (values, prefix) = enumNames(type)
            guard let zero = swift.index.enumeration(type).values.first(where: { $0.number == 0 })?.name ?? values.first else { return nil }
            return zero.hasPrefix(prefix) ? String(zero.dropFirst(prefix.count)) : zero
        }
    }

    func commandType(_ service: Service, _ method: Method) -> String { "\(service.name)\(method.name)Command" }

    /// An enum's value names and the prefix a command line may leave out (`COST_BASIS_METHOD_`).
    func enumNames(_ name: String) -> (values: [String], prefix: String) {
        let enumType = swift.index.enumeration(name)
        return (enumType.values.map(\.name), SwiftNames.upperSnake(enumType.name) + "_")
    }

    /// One option (or flag) of a request field, and the line that adds its value to the request.
    func option(_ field: Field) -> (declaration: [String], gather: String) {
        let json = JSONEmitter.jsonName(field.name)
        let option = Self.optionName(field)
        let property = "field_\(field.name)"
        var help = routes.description(field.comment).replacingOccurrences(of: "\n", with: " ")
        let name = ".customLong(\(Self.literal(option)))"
        if field.name == "request_id" { help += " Default: a new random id; give your own to retry safely." }
        if swift.isMap(field) {
            let entry = swift.mapEntry(field)
            let messageValues: Bool
            if case .message = entry.value.type { messageValues = true } else { messageValues = false }
            help += messageValues ? " (repeat KEY=JSON)" : " (repeat KEY=VALUE)"
            return (["@Option(name: \(name), help: ArgumentHelp(\(Self.literal(help)), valueName: \"key=value\"))",
                     "var \(property): [String] = []"],
                    "try fields.map(\(Self.literal(json)), \(property), option: \(Self.literal("--" + option)), jsonValues: \(messageValues))")
        }
        switch field.type {
        case .scalar(.bool) where !field.repeated:
            return (["@Flag(name: \(name), help: \(Self.literal(help)))", "var \(property) = false"],
                    "fields.flag(\(Self.literal(json)), \(property))")
        case .enumeration(let enumName):
            let (values, prefix) = enumNames(enumName)
            let short = values.filter { $0 != prefix + "UNSPECIFIED" }.map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 }
            help += " One of: " + short.joined(separator: ", ") + "."
            let valuesLiteral = "[" + values.map(Self.literal).joined(separator: ", ") + "]"
            let completion = "completion: .list([" + short.map(Self.literal).joined(separator: ", ") + "])"
            if field.repeated {
                return (["@Option(name: \(name), help: ArgumentHelp(\(Self.literal(help + " Repeatable.")), valueName: \"name\"), \(completion))",
                         "var \(property): [String] = []"],
                        "try fields.enumerations(\(Self.literal(json)), \(property), option: \(Self.literal("--" + option)), values: \(valuesLiteral), prefix: \(Self.literal(prefix)))")
            }
            return (["@Option(name: \(name), help: ArgumentHelp(\(Self.literal(help)), valueName: \"name\"), \(completion))",
                     "var \(property): String?"],
                    "try fields.enumeration(\(Self.literal(json)), \(property), option: \(Self.literal("--" + option)), values: \(valuesLiteral), prefix: \(Self.literal(prefix)))")
        case .message("google.protobuf.Timestamp"):
            if field.repeated {
                return (["@Option(name: \(name), help: ArgumentHelp(\(Self.literal(help + " Repeatable.")), valueName: \"time\"))",
                         "var \(property): [String] = []"],
                        "fields.timestamps(\(Self.literal(json)), \(property))")
            }
            return (["@Option(name: \(name), help: ArgumentHelp(\(Self.literal(help + " RFC 3339, or a date (midnight UTC).")), valueName: \"time\"))",
                     "var \(property): String?"],
                    "fields.timestamp(\(Self.literal(json)), \(property))")
        case .message:
            if field.repeated {
                return (["@Option(name: \(name), help: ArgumentHelp(\(Self.literal(help + " Repeatable; each a JSON object or @FILE.")), valueName: \"json\"))",
                         "var \(property): [String] = []"],
                        "try fields.messages(\(Self.literal(json)), \(property), option: \(Self.literal("--" + option)))")
            }
            return (["@Option(name: \(name), help: ArgumentHelp(\(Self.literal(help + " A JSON object or @FILE.")), valueName: \"json\"))",
                     "var \(property): String?"],
                    "try fields.message(\(Self.literal(json)), \(property), option: \(Self.literal("--" + option)))")
        case .scalar(let kind):
            let valueName = switch kind.family {
            case "double", "float": "number"
            case "int32", "int64", "uint32", "uint64": "integer"
            case "bytes": "base64"
            case "bool": "bool"
            default: "text"
            }
            if field.repeated {
                return (["@Option(name: \(name), help: ArgumentHelp(\(Self.literal(help + " Repeatable.")), valueName: \"\(valueName)\"))",
                         "var \(property): [String] = []"],
                        "fields.scalars(\(Self.literal(json)), \(property))")
            }
            return (["@Option(name: \(name), help: ArgumentHelp(\(Self.literal(help)), valueName: \"\(valueName)\"))",
                     "var \(property): String?"],
                    "fields.scalar(\(Self.literal(json)), \(property))")
        }
    }

    func emitSwift(name: String) -> String {
        let w = CodeWriter()
        w.line("// Generated by holdings-protogen from proto/: one command per method. Do not edit: run scripts/generate.sh.")
        w.line()
        w.line("import ArgumentParser")
        w.line("import HoldingsCLIKit")
        w.line("import HoldingsProto")
        w.line()
        w.line("/// The typed command of every method, grouped by service, and the shapes of our messages.")
        w.block("public enum \(name) {") {
            w.line("/// Per service: its name, its summary and its methods' commands (the command line puts them in a group).")
            w.block("public static let services: [(service: String, abstract: String, commands: [(method: String, type: any ParsableCommand.Type)])] = [", "]") {
                for (_, service) in routes.services {
                    let commands = service.methods.filter { !$0.clientStreaming }.map { "(\(Self.literal($0.name)), \(commandType(service, $0)).self)" }
                    w.line("(\(Self.literal(service.name)), \(Self.literal(abstract(service.comment))), [\(commands.joined(separator: ", "))]),")
                }
            }
            w.line()
            w.line("/// Every message of our package: its fields in declaration order, for printing answers.")
            w.block("public static let shapes: [String: [CLIShapeField]] = [", "]") {
                for file in routes.files where file.generatesTypes && !file.package.hasPrefix("grpc.") {
                    for message in file.allMessages where !message.isMapEntry {
                        let fields = message.fields.map { field -> String in
                            var parts = ["\(Self.literal(JSONEmitter.jsonName(field.name)))"]
                            if swift.isMap(field) {
                                parts.append("map: true")
                            } else if case .message(let type) = field.type, type != "google.protobuf.Timestamp" {
                                parts.append("message: \(Self.literal(type))")
                            } else if case .enumeration(let type) = field.type {
                                parts.append("enumPrefix: \(Self.literal(enumNames(type).prefix))")
                            }
                            if let zero = zeroText(field) { parts.append("zero: \(Self.literal(zero))") }
                            return "CLIShapeField(" + parts.joined(separator: ", ") + ")"
                        }
                        w.line("\(Self.literal(message.fullName)): [\(fields.joined(separator: ", "))],")
                    }
                }
            }
        }
        for (file, service) in routes.services {
            for method in service.methods where !method.clientStreaming {
                w.line()
                emitCommand(w, file, service, method)
            }
        }
        return w.text
    }

    func emitCommand(_ w: CodeWriter, _ file: ProtoFile, _ service: Service, _ method: Method) {
        let request = swift.index.message(method.inputType)
        var discussion = routes.description(method.comment)
        for binding in method.httpBindings { discussion += "\n\nREST: \(binding.verb) \(binding.path)" }
        discussion += "\ngRPC: \(service.fullName)/\(method.name)"
        if method.serverStreaming { discussion += "\nStreams its answers: one per line with --json, until the stream ends or Ctrl-C." }
        w.line("/// `holdings <group of \(service.name)> \(Self.kebab(method.name))`: \(service.name).\(method.name).")
        w.block("public struct \(commandType(service, method)): AsyncParsableCommand {") {
            w.line("public static let configuration = CommandConfiguration(")
            w.line("    commandName: \(Self.literal(Self.kebab(method.name))),")
            w.line("    abstract: \(Self.literal(abstract(method.comment))),")
            w.line("    discussion: \(Self.literal(discussion)))")
            w.line()
            w.line("public init() {}")
            w.line()
            w.line("@OptionGroup var connection: Connection")
            w.line("@OptionGroup var input: RequestInput")
            var gathers: [String] = []
            var optionNames: [String] = []
            for field in request.fields {
                let (declaration, gather) = option(field)
                w.line()
                declaration.forEach { w.line($0) }
                gathers.append(gather)
                optionNames.append("\(Self.literal(JSONEmitter.jsonName(field.name))): (\(Self.literal("--" + Self.optionName(field))), \(Self.literal(field.name)))")
            }
            w.line()
            w.block("public func run() async throws {") {
                w.line("\(gathers.isEmpty ? "let" : "var") fields = RequestFields(options: [\(optionNames.isEmpty ? ":" : optionNames.joined(separator: ", "))])")
                gathers.forEach { w.line($0) }
                let hasRequestId = request.fields.contains { $0.name == "request_id" && $0.type == .scalar(.string) && !$0.repeated }
                w.line("try await MethodCommand.run(")
                w.line("    \(routes.descriptor(file, service, method)),")
                w.line("    request: \(swift.swiftName(method.inputType)).self, response: \(swift.swiftName(method.outputType)).self,")
                w.line("    fields: fields, input: input, connection: connection, shapes: HoldingsCLICommands.shapes,")
                w.line("    newRequestId: \(hasRequestId))")
            }
        }
    }
}
