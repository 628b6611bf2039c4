/// The HTTP face of a method, generated from its `google.api.http` option and
/// `idempotency_level` by holdings-protogen (Generated/swift/HoldingsHTTPRoutes.swift).

/// How a request field is written in a URL (a path variable or a query parameter).
public enum HTTPFieldKind: Sendable, Hashable {
    /// A string, number, enum name or RFC 3339 timestamp: the text is the field's JSON string.
    case scalar
    /// `true` or `false`.
    case bool
    /// A repeated scalar: the parameter given once per element.
    case repeatedScalar
    /// Messages and maps: only in a request body.
    case bodyOnly
}

/// A request field as a URL may set it.
public struct HTTPRouteField: Sendable, Hashable {
    /// The proto3 JSON name (`positionId`).
    public let jsonName: String
    public let kind: HTTPFieldKind

    public init(jsonName: String, kind: HTTPFieldKind) {
        self.jsonName = jsonName
        self.kind = kind
    }
}

/// One REST binding of a method.
public struct HTTPRoute: Sendable {
    public enum Segment: Sendable, Hashable {
        case literal(String)
        /// A path variable, by the proto name of the field it sets.
        case variable(String)
    }

    public let method: MethodDescriptor
    /// GET, POST, PUT, DELETE or PATCH.
    public let verb: String
    /// The path template as declared: `/api/v1/holdings/positions/{position_id}`.
    public let template: String
    public let segments: [Segment]
    /// `*`: the body is the request (path variables set the rest); empty: no body, the
    /// query string sets the fields; otherwise the proto name of the field the body is.
    public let body: String
    /// The request message's fields by proto name and by JSON name.
    public let fields: [String: HTTPRouteField]

    public init(method: MethodDescriptor, verb: String, template: String, body: String, fields: [String: HTTPRouteField]) {
        self.method = method
        self.verb = verb
        self.template = template
        self.body = body
        self.fields = fields
        segments = template.split(separator: "/").map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? .variable(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
    }
}

/// A method as the Connect protocol sees it.
public struct HTTPMethodInfo: Sendable {
    public let method: MethodDescriptor
    /// `idempotency_level = NO_SIDE_EFFECTS`: Connect clients may call it with GET.
    public let noSideEffects: Bool

    public init(method: MethodDescriptor, noSideEffects: Bool) {
        self.method = method
        self.noSideEffects = noSideEffects
    }
}
