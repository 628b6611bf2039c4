/// The parts of a FileDescriptorSet the generator uses, as plain Swift values.

enum ScalarKind: Equatable {
    case double, float, int64, uint64, int32, fixed64, fixed32, bool, string, bytes, uint32, sfixed32, sfixed64, sint32, sint64
}

extension ScalarKind {
    /// The family of the kind by its value range (`int32` for int32, sint32 and sfixed32):
    /// how the sample values and the JSON readers and writers are named.
    var family: String {
        switch self {
        case .double: "double"
        case .float: "float"
        case .int64, .sint64, .sfixed64: "int64"
        case .uint64, .fixed64: "uint64"
        case .int32, .sint32, .sfixed32: "int32"
        case .uint32, .fixed32: "uint32"
        case .bool: "bool"
        case .string: "string"
        case .bytes: "bytes"
        }
    }
}

enum FieldType: Equatable {
    case scalar(ScalarKind)
    case message(String)  // full proto name, no leading dot
    case enumeration(String)
}

struct Field {
    var name: String
    var number: Int32
    var type: FieldType
    var repeated: Bool
    var oneofIndex: Int?
    var comment: String
    /// The message that declares the field (full proto name).
    var owner: String
    var fullName: String { "\(owner).\(name)" }
}

struct Oneof {
    var name: String
    var fields: [Field]
}

final class Message {
    let fullName: String
    let name: String
    let parent: Message?
    let file: String
    var fields: [Field] = []
    var oneofNames: [String] = []
    var nestedMessages: [Message] = []
    var nestedEnums: [EnumType] = []
    var isMapEntry = false
    var comment = ""

    init(fullName: String, name: String, parent: Message?, file: String) {
        self.fullName = fullName
        self.name = name
        self.parent = parent
        self.file = file
    }

    /// Fields outside oneofs, in declaration order.
    var plainFields: [Field] { fields.filter { $0.oneofIndex == nil } }

    var oneofs: [Oneof] {
        oneofNames.enumerated().map { index, name in
            Oneof(name: name, fields: fields.filter { $0.oneofIndex == index })
        }
    }
}

struct EnumValue {
    var name: String
    var number: Int32
    var comment: String
}

final class EnumType {
    let fullName: String
    let name: String
    let parent: Message?
    var values: [EnumValue] = []
    var comment = ""

    init(fullName: String, name: String, parent: Message?) {
        self.fullName = fullName
        self.name = name
        self.parent = parent
    }
}

/// One `google.api.http` binding of a method: an HTTP verb and path template, and which
/// part of the request the body carries.
struct HTTPBinding {
    /// GET, POST, PUT, DELETE or PATCH.
    var verb: String
    /// Path template, for example `/api/v1/holdings/positions/{position_id}`.
    var path: String
    /// `*` (the whole request but the path variables), a field name, or empty (no body).
    var body: String
}

struct Method {
    var name: String
    var inputType: String
    var outputType: String
    var clientStreaming: Bool
    var serverStreaming: Bool
    var comment: String
    /// The method's `google.api.http` rule and its additional bindings, in order.
    var httpBindings: [HTTPBinding] = []
    /// `option idempotency_level`: 0 unknown, 1 NO_SIDE_EFFECTS, 2 IDEMPOTENT.
    var idempotencyLevel: Int = 0
}

struct Service {
    var name: String
    var fullName: String
    var methods: [Method]
    var comment: String
}

final class ProtoFile {
    let name: String
    let package: String
    var messages: [Message] = []
    var enums: [EnumType] = []
    var services: [Service] = []
    /// The FileDescriptorProto as protoc wrote it, without source info (for reflection).
    var descriptorBytes: [UInt8] = []
    var dependencies: [String] = []
    /// False for the files our protos import only for their options (descriptor.proto,
    /// google/api/annotations.proto, google/api/http.proto): reflection serves them, no
    /// Swift types are generated.
    var generatesTypes = true

    init(name: String, package: String) {
        self.name = name
        self.package = package
    }

    /// Every message of the file, nested ones after their parent.
    var allMessages: [Message] {
        var result: [Message] = []
        func visit(_ message: Message) {
            result.append(message)
            message.nestedMessages.forEach(visit)
        }
        messages.forEach(visit)
        return result
    }

    var allEnums: [EnumType] {
        enums + allMessages.flatMap(\.nestedEnums)
    }
}

/// Every type of the set, by full proto name.
struct TypeIndex {
    var messages: [String: Message] = [:]
    var enums: [String: EnumType] = [:]

    init(files: [ProtoFile]) {
        for file in files {
            for message in file.allMessages { messages[message.fullName] = message }
            for enumType in file.allEnums { enums[enumType.fullName] = enumType }
        }
    }

    func message(_ name: String) -> Message {
        guard let message = messages[name] else { fatalError("unknown message type \(name)") }
        return message
    }

    func enumeration(_ name: String) -> EnumType {
        guard let enumType = enums[name] else { fatalError("unknown enum type \(name)") }
        return enumType
    }
}
