/// Emits the Swift types, protobuf-c bridges and service protocols of one proto file.
struct SwiftEmitter {
    let index: TypeIndex
    let cModule: String
    let packagePrefixes: [String: String]  // full name of every message/enum -> Swift type name

    init(files: [ProtoFile], cModule: String) {
        index = TypeIndex(files: files)
        self.cModule = cModule
        var names: [String: String] = [:]
        for file in files {
            let prefix = SwiftNames.packagePrefix(file.package)
            func name(message: Message) -> String {
                if let parent = message.parent { return names[parent.fullName]! + "." + SwiftNames.nestedTypeName(message.name) }
                return prefix + message.name
            }
            for message in file.allMessages { names[message.fullName] = name(message: message) }
            for enumType in file.allEnums {
                names[enumType.fullName] = enumType.parent.map { names[$0.fullName]! + "." + SwiftNames.nestedTypeName(enumType.name) }
                    ?? prefix + enumType.name
            }
        }
        packagePrefixes = names
    }

    // MARK: Names and types

    func swiftName(_ fullName: String) -> String {
        guard let name = packagePrefixes[fullName] else { fatalError("no Swift name for \(fullName)") }
        return name
    }

    func propertyName(_ field: Field) -> String { SwiftNames.lowerCamel(field.name) }

    func isMap(_ field: Field) -> Bool {
        if field.repeated, case .message(let name) = field.type { return index.message(name).isMapEntry }
        return false
    }

    func mapEntry(_ field: Field) -> (key: Field, value: Field, entry: Message) {
        guard case .message(let name) = field.type else { fatalError() }
        let entry = index.message(name)
        return (entry.fields.first { $0.number == 1 }!, entry.fields.first { $0.number == 2 }!, entry)
    }

    func scalarSwiftType(_ kind: ScalarKind) -> String {
        switch kind {
        case .double: "Double"
        case .float: "Float"
        case .int64, .sint64, .sfixed64: "Int64"
        case .uint64, .fixed64: "UInt64"
        case .int32, .sint32, .sfixed32: "Int32"
        case .uint32, .fixed32: "UInt32"
        case .bool: "Bool"
        case .string: "String"
        case .bytes: "[UInt8]"
        }
    }

    func elementType(_ type: FieldType) -> String {
        switch type {
        case .scalar(let kind): scalarSwiftType(kind)
        case .message(let name): swiftName(name)
        case .enumeration(let name): swiftName(name)
        }
    }

    func propertyType(_ field: Field) -> String {
        if isMap(field) {
            let (key, value, _) = mapEntry(field)
            return "[\(elementType(key.type)): \(elementType(value.type))]"
        }
        if field.repeated { return "[\(elementType(field.type))]" }
        if case .message = field.type { return elementType(field.type) + "?" }
        return elementType(field.type)
    }

    func defaultValue(_ field: Field) -> String {
        if isMap(field) { return "[:]" }
        if field.repeated { return "[]" }
        switch field.type {
        case .message: return "nil"
        case .enumeration: return ".init()"
        case .scalar(let kind):
            switch kind {
            case .string: return "\"\""
            case .bytes: return "[]"
            case .bool: return "false"
            default: return "0"
            }
        }
    }

    func oneofTypeName(_ oneof: Oneof, in message: Message) -> String {
        let name = CNames.toCamel(oneof.name)
        let taken = Set(message.nestedMessages.map(\.name) + message.nestedEnums.map(\.name))
        return taken.contains(name) ? name + "OneOf" : name
    }

    // MARK: C values

    func cTypeName(_ fullName: String) -> String { CNames.typeName(fullName) }
    func cInit(_ fullName: String) -> String { CNames.lowerName(fullName) + "__init" }

    /// Swift expression for the C representation of a Swift value.
    func writeValue(_ type: FieldType, _ value: String) -> String {
        switch type {
        case .scalar(.string): "arena.string(\(value))"
        case .scalar(.bytes): "arena.binary(\(value))"
        case .scalar(.bool): "(\(value) ? 1 : 0)"
        case .scalar: value
        case .enumeration(let name): "\(cTypeName(name))(rawValue: .init(truncatingIfNeeded: \(value).rawValue))"
        case .message(let name): "arena.message(\(value), as: \(cTypeName(name)).self)"
        }
    }

    /// Swift expression reading a C value; `required` gives a default message for NULL.
    func readValue(_ type: FieldType, _ c: String, field: Field, required: Bool) -> String {
        switch type {
        case .scalar(.string): "try ProtobufCRead.string(\(c), \"\(field.fullName)\")"
        case .scalar(.bytes): "ProtobufCRead.bytes(\(c))"
        case .scalar(.bool): "(\(c) != 0)"
        case .scalar: c
        case .enumeration(let name): "\(swiftName(name))(rawValue: Int32(truncatingIfNeeded: \(c).rawValue))"
        case .message(let name):
            required
                ? "try ProtobufCRead.requiredMessage(\(c), as: \(swiftName(name)).self)"
                : "try ProtobufCRead.message(\(c), as: \(swiftName(name)).self)"
        }
    }

    // MARK: File

    func emit(_ file: ProtoFile) -> String {
        let w = CodeWriter()
        w.line("// Generated by holdings-protogen from \(file.name). Do not edit: run scripts/generate.sh.")
        w.line()
        w.line("import ProtoCodec")
        if !file.services.isEmpty { w.line("import RPCCore") }
        w.line("internal import CProtobufC")
        w.line("internal import \(cModule)")
        for enumType in file.enums {
            w.line()
            emitEnum(enumType, w)
        }
        for message in file.messages where !message.isMapEntry {
            w.line()
            emitMessage(message, w)
        }
        for message in file.allMessages where !message.isMapEntry {
            w.line()
            emitBridge(message, w)
        }
        for service in file.services {
            w.line()
            emitService(service, file: file, w)
        }
        return w.text
    }

    // MARK: Enums

    func emitEnum(_ enumType: EnumType, _ w: CodeWriter) {
        var seen = Set<Int32>()
        let values = enumType.values.filter { seen.insert($0.number).inserted }
        let cases = values.map { (value: $0, name: SwiftNames.enumCase($0.name, enumName: enumType.name)) }
        w.doc(enumType.comment)
        let name = enumType.parent == nil ? swiftName(enumType.fullName) : SwiftNames.nestedTypeName(enumType.name)
        w.block("public enum \(name): ProtoEnum, CaseIterable {") {
            for (value, caseName) in cases {
                w.doc(value.comment)
                w.line("case \(SwiftNames.declared(caseName)) // \(value.name) = \(value.number)")
            }
            w.line("/// A number this build does not know; kept so that it round-trips.")
            w.line("case UNRECOGNIZED(Int32)")
            w.line()
            w.line("public init() { self = .\(cases[0].name) }")
            w.line()
            w.block("public init(rawValue: Int32) {") {
                w.block("switch rawValue {", "}") {
                    for (value, caseName) in cases { w.line("case \(value.number): self = .\(caseName)") }
                    w.line("default: self = .UNRECOGNIZED(rawValue)")
                }
            }
            w.line()
            w.block("public var rawValue: Int32 {") {
                w.block("switch self {") {
                    for (value, caseName) in cases { w.line("case .\(caseName): \(value.number)") }
                    w.line("case .UNRECOGNIZED(let value): value")
                }
            }
            w.line()
            w.block("public var protoName: String? {") {
                w.block("switch self {") {
                    for (value, caseName) in cases { w.line("case .\(caseName): \"\(value.name)\"") }
                    w.line("case .UNRECOGNIZED: nil")
                }
            }
            w.line()
            w.line("public static let allCases: [Self] = [\(cases.map { "." + $0.name }.joined(separator: ", "))]")
        }
    }

    // MARK: Messages

    func emitMessage(_ message: Message, _ w: CodeWriter) {
        w.doc(message.comment)
        let name = message.parent == nil ? swiftName(message.fullName) : SwiftNames.nestedTypeName(message.name)
        w.block("public struct \(name): ProtoMessage {") {
            w.line("public static let protoMessageName = \"\(message.fullName)\"")
            for field in message.plainFields {
                w.line()
                w.doc(field.comment)
                w.line("public var \(SwiftNames.declared(propertyName(field))): \(propertyType(field)) = \(defaultValue(field))")
            }
            for oneof in message.oneofs {
                let typeName = oneofTypeName(oneof, in: message)
                w.line()
                w.line("/// The `\(oneof.name)` oneof: at most one of its fields is set.")
                w.line("public var \(SwiftNames.declared(SwiftNames.lowerCamel(oneof.name))): \(typeName)? = nil")
                w.line()
                w.block("public enum \(typeName): Sendable, Hashable {") {
                    for field in oneof.fields {
                        w.doc(field.comment)
                        w.line("case \(SwiftNames.declared(propertyName(field)))(\(elementType(field.type)))")
                    }
                }
            }
            for nested in message.nestedEnums {
                w.line()
                emitEnum(nested, w)
            }
            for nested in message.nestedMessages where !nested.isMapEntry {
                w.line()
                emitMessage(nested, w)
            }
            w.line()
            w.line("public init() {}")
        }
    }

    func emitBridge(_ message: Message, _ w: CodeWriter) {
        let swift = swiftName(message.fullName)
        let cType = cTypeName(message.fullName)
        w.block("extension \(swift) {") {
            w.line("public static let _protobufC = ProtobufCMessageType(\(cInit(message.fullName)))")
            w.line()
            // Decoding
            w.block("public init(_protobufC message: UnsafeRawPointer) throws(ProtoDecodingError) {") {
                let fields = message.fields
                w.line(fields.isEmpty ? "_ = message" : "let c = message.assumingMemoryBound(to: \(cType).self).pointee")
                w.line("self.init()")
                for field in message.plainFields { emitRead(field, w) }
                for oneof in message.oneofs {
                    let property = SwiftNames.lowerCamel(oneof.name)
                    w.block("switch c.\(oneof.name.lowercased())_case.rawValue {") {
                        for field in oneof.fields {
                            let value = readValue(field.type, "c.\(CNames.fieldName(field.name))", field: field, required: true)
                            w.line("case \(field.number): self.\(property) = .\(propertyName(field))(\(value))")
                        }
                        w.line("default: self.\(property) = nil")
                    }
                }
            }
            w.line()
            // Encoding
            w.block("public func _protobufCWrite(to message: UnsafeMutableRawPointer, arena: ProtobufCArena) {") {
                w.line("let c = message.bindMemory(to: \(cType).self, capacity: 1)")
                w.line("\(cInit(message.fullName))(c)")
                if message.fields.isEmpty { w.line("_ = arena") }
                for field in message.plainFields { emitWrite(field, w) }
                for oneof in message.oneofs {
                    let property = SwiftNames.lowerCamel(oneof.name)
                    w.block("switch self.\(property) {") {
                        for field in oneof.fields {
                            w.line("case .\(propertyName(field))(let value)?:")
                            w.line("    c.pointee.\(oneof.name.lowercased())_case = .init(rawValue: \(field.number))")
                            w.line("    c.pointee.\(CNames.fieldName(field.name)) = \(writeValue(field.type, "value"))")
                        }
                        w.line("case nil: break")
                    }
                }
            }
        }
    }

    func emitRead(_ field: Field, _ w: CodeWriter) {
        let property = "self.\(propertyName(field))"
        let cField = CNames.fieldName(field.name)
        if isMap(field) {
            let (key, value, _) = mapEntry(field)
            w.block("if let entries = c.\(cField) {") {
                w.block("for index in 0..<c.n_\(cField) {") {
                    w.line("guard let entry = entries[index]?.pointee else { continue }")
                    let keyRead = readValue(key.type, "entry.key", field: field, required: true)
                    let valueRead = readValue(value.type, "entry.value", field: field, required: true)
                    w.line("\(property)[\(keyRead)] = \(valueRead)")
                }
            }
            return
        }
        guard field.repeated else {
            w.line("\(property) = \(readValue(field.type, "c.\(cField)", field: field, required: false))")
            return
        }
        let scalars = "ProtobufCRead.scalars(c.n_\(cField), c.\(cField))"
        switch field.type {
        case .scalar(.string), .message:
            let element = elementType(field.type)
            let read = readValue(field.type, "element", field: field, required: true)
            w.line("\(property) = try ProtobufCRead.repeated(c.n_\(cField), c.\(cField)) { (element) throws(ProtoDecodingError) -> \(element) in \(read) }")
        case .scalar(.bool): w.line("\(property) = \(scalars).map { $0 != 0 }")
        case .scalar(.bytes): w.line("\(property) = \(scalars).map { ProtobufCRead.bytes($0) }")
        case .scalar: w.line("\(property) = \(scalars)")
        case .enumeration(let name):
            w.line("\(property) = \(scalars).map { \(swiftName(name))(rawValue: Int32(truncatingIfNeeded: $0.rawValue)) }")
        }
    }

    func emitWrite(_ field: Field, _ w: CodeWriter) {
        let property = "self.\(propertyName(field))"
        let cField = CNames.fieldName(field.name)
        if isMap(field) {
            let (key, value, entry) = mapEntry(field)
            let cEntry = cTypeName(entry.fullName)
            w.block("if !\(property).isEmpty {") {
                if key.type == .scalar(.bool) {
                    w.line("let keys = \(property).keys.sorted { !$0 && $1 }")
                } else {
                    w.line("let keys = \(property).keys.sorted()")
                }
                w.line("let entries = arena.pointers(\(cEntry).self, count: keys.count)")
                w.block("for (index, key) in keys.enumerated() {") {
                    w.line("let entry = arena.allocate(\(cEntry).self)")
                    w.line("\(cInit(entry.fullName))(entry)")
                    w.line("entry.pointee.key = \(writeValue(key.type, "key"))")
                    w.line("entry.pointee.value = \(writeValue(value.type, "\(property)[key]!"))")
                    w.line("entries[index] = entry")
                }
                w.line("c.pointee.n_\(cField) = keys.count")
                w.line("c.pointee.\(cField) = entries")
            }
            return
        }
        guard field.repeated else {
            if case .message(let name) = field.type {
                w.line("c.pointee.\(cField) = \(property).map { arena.message($0, as: \(cTypeName(name)).self) }")
            } else {
                w.line("c.pointee.\(cField) = \(writeValue(field.type, property))")
            }
            return
        }
        w.line("c.pointee.n_\(cField) = \(property).count")
        switch field.type {
        case .scalar(.string): w.line("c.pointee.\(cField) = arena.strings(\(property))")
        case .scalar(.bytes): w.line("c.pointee.\(cField) = arena.binaries(\(property))")
        case .scalar(.bool): w.line("c.pointee.\(cField) = arena.array(\(property).map { Int32($0 ? 1 : 0) })")
        case .scalar: w.line("c.pointee.\(cField) = arena.array(\(property))")
        case .enumeration(let name):
            w.line("c.pointee.\(cField) = arena.array(\(property).map { \(cTypeName(name))(rawValue: .init(truncatingIfNeeded: $0.rawValue)) })")
        case .message(let name): w.line("c.pointee.\(cField) = arena.messages(\(property), as: \(cTypeName(name)).self)")
        }
    }

    // MARK: Services

    func kind(_ method: Method) -> String {
        switch (method.clientStreaming, method.serverStreaming) {
        case (false, false): "unary"
        case (false, true): "serverStreaming"
        case (true, false): "clientStreaming"
        case (true, true): "bidirectionalStreaming"
        }
    }

    func emitService(_ service: Service, file: ProtoFile, _ w: CodeWriter) {
        let swift = SwiftNames.packagePrefix(file.package) + service.name
        w.doc(service.comment)
        w.block("public enum \(swift) {") {
            w.line("/// Fully qualified service name.")
            w.line("public static let name = \"\(service.fullName)\"")
            w.line()
            w.line("/// The methods, typed by request and response.")
            w.block("public enum Method {") {
                for method in service.methods {
                    w.doc(method.comment)
                    let types = "\(swiftName(method.inputType)), \(swiftName(method.outputType))"
                    w.line("public static let \(SwiftNames.declared(SwiftNames.methodMember(method.name)))"
                        + " = RPCMethod<\(types)>(service: name, method: \"\(method.name)\", kind: .\(kind(method)))")
                }
            }
            w.line()
            let methodNames = service.methods.map { "Method.\(SwiftNames.methodMember($0.name)).descriptor" }
            w.line("public static let descriptor = ServiceDescriptor(")
            w.line("    name: name,")
            w.line("    methods: [\(methodNames.joined(separator: ", "))],")
            w.line("    protoFile: \"\(file.name)\")")
            w.line()
            w.line("/// Typed calls to the service over any client transport (a channel).")
            w.block("public struct Client: Sendable {") {
                w.line("public let transport: any ClientTransport")
                w.line()
                w.line("public init(_ transport: any ClientTransport) { self.transport = transport }")
                for method in service.methods {
                    w.line()
                    w.doc(method.comment)
                    emitClientMethod(method, w)
                }
            }
            w.line()
            w.line("/// What an implementation of the service provides; `methodHandlers` comes with it.")
            w.block("public protocol ServiceProtocol: RPCService {") {
                for method in service.methods {
                    w.doc(method.comment)
                    w.line(requirement(method))
                }
            }
        }
        w.line()
        w.block("extension \(swift).ServiceProtocol {") {
            w.line("public var serviceDescriptor: ServiceDescriptor { \(swift).descriptor }")
            w.line()
            w.block("public var methodHandlers: [ServerMethodHandler] {") {
                w.block("[", "]") {
                    for method in service.methods {
                        let name = SwiftNames.methodMember(method.name)
                        let descriptor = "\(swift).Method.\(name)"
                        switch kind(method) {
                        case "unary":
                            w.line(".unary(\(descriptor)) { try await self.\(name)(request: $0, context: $1) },")
                        case "serverStreaming":
                            w.line(".serverStreaming(\(descriptor)) { try await self.\(name)(request: $0, response: $1, context: $2) },")
                        case "clientStreaming":
                            w.line(".clientStreaming(\(descriptor)) { try await self.\(name)(requests: $0, context: $1) },")
                        default:
                            w.line(".bidirectionalStreaming(\(descriptor)) { try await self.\(name)(requests: $0, response: $1, context: $2) },")
                        }
                    }
                }
            }
        }
    }

    func emitClientMethod(_ method: Method, _ w: CodeWriter) {
        let name = SwiftNames.declared(SwiftNames.methodMember(method.name))
        let input = swiftName(method.inputType)
        let output = swiftName(method.outputType)
        let descriptor = "Method.\(name)"
        switch kind(method) {
        case "unary":
            w.block("public func \(name)(_ request: \(input), options: CallOptions = CallOptions()) async throws -> \(output) {") {
                w.line("try await ClientCalls.unary(transport, \(descriptor), request, options: options).message")
            }
        case "serverStreaming":
            w.block("public func \(name)(_ request: \(input), options: CallOptions = CallOptions()) async throws -> ServerStreamingCall<\(output)> {") {
                w.line("try await ClientCalls.serverStreaming(transport, \(descriptor), request, options: options)")
            }
        case "clientStreaming":
            w.block("public func \(name)(options: CallOptions = CallOptions()) async throws -> ClientStreamingCall<\(input), \(output)> {") {
                w.line("try await ClientCalls.clientStreaming(transport, \(descriptor), options: options)")
            }
        default:
            w.block("public func \(name)(options: CallOptions = CallOptions()) async throws -> BidirectionalStreamingCall<\(input), \(output)> {") {
                w.line("try await ClientCalls.bidirectionalStreaming(transport, \(descriptor), options: options)")
            }
        }
    }

    /// The files of the set as reflection serves them.
    func emitRegistry(_ files: [ProtoFile], name: String) -> String {
        let w = CodeWriter()
        w.line("// Generated by holdings-protogen. Do not edit: run scripts/generate.sh.")
        w.line()
        w.line("import RPCCore")
        w.line()
        w.line("/// The compiled `.proto` files of this module (FileDescriptorProto, no source info), for server reflection.")
        w.block("public enum \(name) {") {
            w.block("public static let files: [ProtoFileDescriptor] = [", "]") {
                for file in files {
                    var symbols: [String] = []
                    for message in file.allMessages where !message.isMapEntry { symbols.append(message.fullName) }
                    for enumType in file.allEnums { symbols.append(enumType.fullName) }
                    for service in file.services {
                        symbols.append(service.fullName)
                        for method in service.methods { symbols.append("\(service.fullName).\(method.name)") }
                    }
                    w.block("ProtoFileDescriptor(", "),") {
                        w.line("name: \"\(file.name)\",")
                        w.line("dependencies: [\(file.dependencies.map { "\"\($0)\"" }.joined(separator: ", "))],")
                        w.line("symbols: [")
                        for symbol in symbols { w.line("    \"\(symbol)\",") }
                        w.line("],")
                        let encoded = base64(file.descriptorBytes)
                        w.line("base64: \"\"\"")
                        var index = encoded.startIndex
                        while index < encoded.endIndex {
                            let end = encoded.index(index, offsetBy: 100, limitedBy: encoded.endIndex) ?? encoded.endIndex
                            w.line(String(encoded[index..<end]) + (end < encoded.endIndex ? "\\" : ""))
                            index = end
                        }
                        w.line("\"\"\"")
                    }
                }
            }
        }
        return w.text
    }

    private func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0...chunk.count { out.append(alphabet[Int(value >> (18 - 6 * UInt32(position)) & 63)]) }
            index += 3
        }
        return out
    }

    func requirement(_ method: Method) -> String {
        let name = SwiftNames.methodMember(method.name)
        let input = swiftName(method.inputType)
        let output = swiftName(method.outputType)
        switch kind(method) {
        case "unary":
            return "func \(name)(request: \(input), context: ServerContext) async throws -> \(output)"
        case "serverStreaming":
            return "func \(name)(request: \(input), response: ResponseWriter<\(output)>, context: ServerContext) async throws"
        case "clientStreaming":
            return "func \(name)(requests: RequestStream<\(input)>, context: ServerContext) async throws -> \(output)"
        default:
            return "func \(name)(requests: RequestStream<\(input)>, response: ResponseWriter<\(output)>, context: ServerContext) async throws"
        }
    }
}
