/// Names protoc-c gives C declarations (protobuf-c `protoc-c/c_helpers.cc`), and the
/// Swift names we give the generated types.
enum CNames {
    private static let keywords: Set<String> = [
        "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char", "class",
        "compl", "const", "const_cast", "continue", "default", "delete", "do", "double", "dynamic_cast", "else",
        "enum", "explicit", "extern", "false", "float", "for", "friend", "goto", "if", "inline", "int", "long",
        "mutable", "namespace", "new", "not", "not_eq", "operator", "or", "or_eq", "private", "protected",
        "public", "register", "reinterpret_cast", "return", "short", "signed", "sizeof", "static",
        "static_cast", "struct", "switch", "template", "this", "throw", "true", "try", "typedef", "typeid",
        "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor",
        "xor_eq",
    ]

    /// `ToCamel`: `snake_case` → `SnakeCase`.
    static func toCamel(_ name: String) -> String {
        var result = ""
        var nextUpper = true
        for character in name {
            if character == "_" {
                nextUpper = true
            } else if nextUpper {
                result += character.uppercased()
                nextUpper = false
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// `CamelToLower`: `OpenPositionRequest` → `open_position_request`, `DQNPolicy` → `dqnpolicy`.
    static func camelToLower(_ name: String) -> String {
        var result = ""
        var wasUpper = true
        for character in name {
            let isUpper = character.isASCII && character.isUppercase
            if isUpper {
                if !wasUpper { result += "_" }
                result += character.lowercased()
            } else {
                result.append(character)
            }
            wasUpper = isUpper
        }
        return result
    }

    /// `FullNameToC`: struct and enum type names.
    static func typeName(_ fullName: String) -> String {
        fullName.split(separator: ".").map { toCamel(String($0)) }.joined(separator: "__")
    }

    /// `FullNameToLower`: prefix of function and descriptor names.
    static func lowerName(_ fullName: String) -> String {
        fullName.split(separator: ".").map { camelToLower(String($0)) }.joined(separator: "__")
    }

    /// `FieldName`: struct member names.
    static func fieldName(_ name: String) -> String {
        let lower = name.lowercased()
        return keywords.contains(lower) ? lower + "_" : lower
    }
}

enum SwiftNames {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return",
        "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self",
        "super", "throws", "true", "try", "Type", "Protocol",
    ]

    /// A declaration name, back-quoted when it is a keyword.
    static func declared(_ name: String) -> String {
        keywords.contains(name) ? "`\(name)`" : name
    }

    /// `client_id` → `clientId`.
    static func lowerCamel(_ snake: String) -> String {
        let parts = snake.split(separator: "_", omittingEmptySubsequences: true).map(String.init)
        guard let first = parts.first else { return "_" }
        var result = first.prefix(1).lowercased() + first.dropFirst()
        for part in parts.dropFirst() { result += part.prefix(1).uppercased() + part.dropFirst() }
        if let c = result.first, c.isNumber { result = "_" + result }
        return result
    }

    /// A method's Swift member name (`GetPortfolioValue` → `getPortfolioValue`), as the
    /// service enum, the client and the service protocol name it.
    static func methodMember(_ method: String) -> String {
        lowerCamel(CNames.camelToLower(method))
    }

    /// `ultracore.holdings.v1` → `Ultracore_Holdings_V1_`.
    static func packagePrefix(_ package: String) -> String {
        guard !package.isEmpty else { return "" }
        return package.split(separator: ".").map { CNames.toCamel(String($0)) }.joined(separator: "_") + "_"
    }

    /// A nested type's declared name (never a reserved member name).
    static func nestedTypeName(_ name: String) -> String {
        ["Type", "Protocol", "Self"].contains(name) ? name + "Message" : name
    }

    /// `CostBasisMethod` → `COST_BASIS_METHOD`.
    static func upperSnake(_ camel: String) -> String {
        let characters = Array(camel)
        var result = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase && index > 0 {
                let previous = characters[index - 1]
                let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { result += "_" }
            }
            result += character.uppercased()
        }
        return result
    }

    /// Enum case name: the value name without the enum-name prefix, lower camel case.
    static func enumCase(_ valueName: String, enumName: String) -> String {
        let prefix = upperSnake(enumName) + "_"
        var name = valueName
        if name.hasPrefix(prefix) && name.count > prefix.count { name = String(name.dropFirst(prefix.count)) }
        return lowerCamel(name.lowercased())
    }
}
