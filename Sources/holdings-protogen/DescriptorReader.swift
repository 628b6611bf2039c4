import CProtoDescriptor
import CProtobufC

/// Reads a serialized `google.protobuf.FileDescriptorSet` (protoc `--descriptor_set_out
/// --include_imports --include_source_info`) with protobuf-c's codec for descriptor.proto.
enum DescriptorReader {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func read(_ bytes: [UInt8]) throws -> [ProtoFile] {
        let set = bytes.withUnsafeBufferPointer {
            google__protobuf__file_descriptor_set__unpack(nil, $0.count, $0.baseAddress)
        }
        guard let set else { throw Failure(description: "not a FileDescriptorSet") }
        defer { google__protobuf__file_descriptor_set__free_unpacked(set, nil) }
        var files: [ProtoFile] = []
        for index in 0..<set.pointee.n_file {
            files.append(try readFile(set.pointee.file[index]!))
        }
        return files
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    private static func readFile(_ file: UnsafeMutablePointer<Google__Protobuf__FileDescriptorProto>) throws -> ProtoFile {
        let f = file.pointee
        let name = text(f.name)
        if optionFiles.contains(name) {
            let result = ProtoFile(name: name, package: text(f.package))
            result.dependencies = (0..<f.n_dependency).map { text(f.dependency[$0]) }
            result.generatesTypes = false
            result.descriptorBytes = packWithoutSourceInfo(file)
            return result
        }
        let syntax = text(f.syntax)
        guard syntax == "proto3" else {
            throw Failure(description: "\(name): only proto3 files are supported (found '\(syntax.isEmpty ? "proto2" : syntax)')")
        }
        let result = ProtoFile(name: name, package: text(f.package))
        result.dependencies = (0..<f.n_dependency).map { text(f.dependency[$0]) }

        var comments: [[Int32]: String] = [:]
        if let info = f.source_code_info {
            for index in 0..<info.pointee.n_location {
                let location = info.pointee.location[index]!.pointee
                let path = (0..<location.n_path).map { location.path[$0] }
                let comment = text(location.leading_comments)
                if !comment.isEmpty { comments[path] = comment }
            }
        }

        let prefix = result.package.isEmpty ? "" : result.package + "."
        for index in 0..<f.n_message_type {
            result.messages.append(
                readMessage(f.message_type[index]!, prefix: prefix, parent: nil, file: name,
                            path: [4, Int32(index)], comments: comments))
        }
        for index in 0..<f.n_enum_type {
            result.enums.append(readEnum(f.enum_type[index]!, prefix: prefix, parent: nil, path: [5, Int32(index)], comments: comments))
        }
        for index in 0..<f.n_service {
            let s = f.service[index]!.pointee
            let serviceName = text(s.name)
            var methods: [Method] = []
            for m in 0..<s.n_method {
                let method = s.method[m]!.pointee
                methods.append(Method(
                    name: text(method.name),
                    inputType: String(text(method.input_type).dropFirst()),
                    outputType: String(text(method.output_type).dropFirst()),
                    clientStreaming: method.has_client_streaming != 0 && method.client_streaming != 0,
                    serverStreaming: method.has_server_streaming != 0 && method.server_streaming != 0,
                    comment: comments[[6, Int32(index), 2, Int32(m)]] ?? "",
                    httpBindings: try httpBindings(method.options, method: text(method.name)),
                    idempotencyLevel: method.options.map { $0.pointee.has_idempotency_level != 0 ? Int($0.pointee.idempotency_level.rawValue) : 0 } ?? 0))
            }
            result.services.append(Service(
                name: serviceName, fullName: prefix + serviceName, methods: methods,
                comment: comments[[6, Int32(index)]] ?? ""))
        }

        result.descriptorBytes = packWithoutSourceInfo(file)
        return result
    }

    /// Files imported for their options only (see `ProtoFile.generatesTypes`).
    static let optionFiles: Set<String> = ["google/protobuf/descriptor.proto", "google/api/annotations.proto", "google/api/http.proto"]

    /// The descriptor without source info, as reflection serves it.
    private static func packWithoutSourceInfo(_ file: UnsafeMutablePointer<Google__Protobuf__FileDescriptorProto>) -> [UInt8] {
        let savedInfo = file.pointee.source_code_info
        file.pointee.source_code_info = nil
        defer { file.pointee.source_code_info = savedInfo }
        let size = google__protobuf__file_descriptor_proto__get_packed_size(file)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = google__protobuf__file_descriptor_proto__pack(file, buffer.baseAddress)
        }
    }

    /// The `google.api.http` extension (field 72295728 of MethodOptions), which protobuf-c
    /// keeps as an unknown field: decoded with the HttpRule codec.
    private static func httpBindings(_ options: UnsafeMutablePointer<Google__Protobuf__MethodOptions>?, method: String) throws -> [HTTPBinding] {
        guard let options else { return [] }
        let base = options.pointee.base
        var result: [HTTPBinding] = []
        for index in 0..<Int(base.n_unknown_fields) {
            let field = base.unknown_fields[index]
            guard field.tag == 72_295_728 else { continue }
            // protobuf-c keeps a length-delimited unknown field with its length prefix.
            var prefix = 0
            while prefix < field.len, field.data[prefix] & 0x80 != 0 { prefix += 1 }
            prefix += 1
            guard prefix <= field.len,
                  let rule = google__api__http_rule__unpack(nil, field.len - prefix, field.data + prefix) else {
                throw Failure(description: "\(method): google.api.http option does not decode as an HttpRule")
            }
            defer { google__api__http_rule__free_unpacked(rule, nil) }
            func binding(_ rule: Google__Api__HttpRule) throws -> HTTPBinding {
                let verb: String
                let path: String
                switch rule.pattern_case {
                case GOOGLE__API__HTTP_RULE__PATTERN_GET: (verb, path) = ("GET", text(rule.get))
                case GOOGLE__API__HTTP_RULE__PATTERN_POST: (verb, path) = ("POST", text(rule.post))
                case GOOGLE__API__HTTP_RULE__PATTERN_PUT: (verb, path) = ("PUT", text(rule.put))
                case GOOGLE__API__HTTP_RULE__PATTERN_DELETE: (verb, path) = ("DELETE", text(rule.delete_))
                case GOOGLE__API__HTTP_RULE__PATTERN_PATCH: (verb, path) = ("PATCH", text(rule.patch))
                default: throw Failure(description: "\(method): google.api.http needs get, post, put, delete or patch")
                }
                return HTTPBinding(verb: verb, path: path, body: text(rule.body))
            }
            result.append(try binding(rule.pointee))
            for extra in 0..<rule.pointee.n_additional_bindings {
                result.append(try binding(rule.pointee.additional_bindings[extra]!.pointee))
            }
        }
        return result
    }

    private static func readMessage(
        _ pointer: UnsafeMutablePointer<Google__Protobuf__DescriptorProto>, prefix: String, parent: Message?,
        file: String, path: [Int32], comments: [[Int32]: String]
    ) -> Message {
        let d = pointer.pointee
        let name = text(d.name)
        let message = Message(fullName: prefix + name, name: name, parent: parent, file: file)
        message.comment = comments[path] ?? ""
        message.isMapEntry = d.options != nil && d.options.pointee.has_map_entry != 0 && d.options.pointee.map_entry != 0
        message.oneofNames = (0..<d.n_oneof_decl).map { text(d.oneof_decl[$0]!.pointee.name) }
        for index in 0..<d.n_field {
            let field = d.field[index]!.pointee
            let typeName = String(text(field.type_name).dropFirst())
            let type: FieldType
            switch field.type {
            case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE: type = .message(typeName)
            case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM: type = .enumeration(typeName)
            case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP: fatalError("\(name): groups are not supported")
            default: type = .scalar(scalarKind(field.type))
            }
            let fieldName = text(field.name)
            if field.has_proto3_optional != 0 && field.proto3_optional != 0 {
                fatalError("\(message.fullName).\(fieldName): proto3 `optional` is not supported by protoc-c 1.4")
            }
            message.fields.append(Field(
                name: fieldName, number: field.number, type: type,
                repeated: field.label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED,
                oneofIndex: field.has_oneof_index != 0 ? Int(field.oneof_index) : nil,
                comment: comments[path + [2, Int32(index)]] ?? "",
                owner: message.fullName))
        }
        for index in 0..<d.n_nested_type {
            message.nestedMessages.append(readMessage(
                d.nested_type[index]!, prefix: message.fullName + ".", parent: message, file: file,
                path: path + [3, Int32(index)], comments: comments))
        }
        for index in 0..<d.n_enum_type {
            message.nestedEnums.append(readEnum(
                d.enum_type[index]!, prefix: message.fullName + ".", parent: message,
                path: path + [4, Int32(index)], comments: comments))
        }
        return message
    }

    private static func readEnum(
        _ pointer: UnsafeMutablePointer<Google__Protobuf__EnumDescriptorProto>, prefix: String, parent: Message?,
        path: [Int32], comments: [[Int32]: String]
    ) -> EnumType {
        let d = pointer.pointee
        let name = text(d.name)
        let result = EnumType(fullName: prefix + name, name: name, parent: parent)
        result.comment = comments[path] ?? ""
        for index in 0..<d.n_value {
            let value = d.value[index]!.pointee
            result.values.append(EnumValue(
                name: text(value.name), number: value.number, comment: comments[path + [2, Int32(index)]] ?? ""))
        }
        return result
    }

    private static func scalarKind(_ type: Google__Protobuf__FieldDescriptorProto__Type) -> ScalarKind {
        switch type {
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE: .double
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT: .float
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64: .int64
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64: .uint64
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32: .int32
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64: .fixed64
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32: .fixed32
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL: .bool
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING: .string
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES: .bytes
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32: .uint32
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32: .sfixed32
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64: .sfixed64
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32: .sint32
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64: .sint64
        default: fatalError("unknown field type \(type.rawValue)")
        }
    }
}
