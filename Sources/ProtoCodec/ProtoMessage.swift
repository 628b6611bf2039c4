/// A protobuf message type generated from our `.proto` files.
///
/// Encoding and decoding go through protobuf-c: the generated code copies a value into
/// the message's C struct (built in a ``ProtobufCArena``) and lets
/// `protobuf_c_message_pack` write the wire bytes; decoding lets
/// `protobuf_c_message_unpack` parse and then copies the C struct into the Swift value,
/// validating what protobuf-c does not (UTF-8 of strings).
///
/// The underscored requirements are the bridge the generator implements; callers use
/// ``init(serializedBytes:)`` and ``serializedBytes()``.
public protocol ProtoMessage: Sendable, Hashable {
    /// Fully qualified proto name, for example `ultracore.holdings.v1.Position`.
    static var protoMessageName: String { get }

    /// A message with every field at its default value.
    init()

    /// The protobuf-c descriptor of the message's C struct.
    static var _protobufC: ProtobufCMessageType { get }

    /// Copies an unpacked C message into a Swift value.
    ///
    /// - Parameter message: a pointer to the message's C struct, valid for the call only.
    init(_protobufC message: UnsafeRawPointer) throws(ProtoDecodingError)

    /// Fills the C struct at `message` (uninitialized, `_protobufC.size` bytes) with this
    /// value; every pointer stored there is allocated from `arena`.
    func _protobufCWrite(to message: UnsafeMutableRawPointer, arena: ProtobufCArena)
}

/// A protobuf enum: known cases plus `UNRECOGNIZED(value)` for numbers this build does not
/// know, which round-trip unchanged.
public protocol ProtoEnum: Sendable, Hashable, RawRepresentable where RawValue == Int32 {
    /// The zero value.
    init()
    init(rawValue: Int32)
    /// The proto name of the value (`"FIFO"`), or nil for an unrecognized number.
    var protoName: String? { get }
}

extension ProtoMessage {
    /// Decodes a message from protobuf wire bytes.
    ///
    /// Throws ``ProtoDecodingError`` for bytes protobuf-c rejects (truncation, bad wire
    /// types, lengths past the end, …) and for strings that are not valid UTF-8. Never
    /// traps on hostile input; every allocation made while decoding is freed.
    public init(serializedBytes bytes: some Collection<UInt8>) throws(ProtoDecodingError) {
        var outcome: Result<Self, ProtoDecodingError>?
        bytes.withContiguousStorageIfAvailable { buffer in
            outcome = Result { () throws(ProtoDecodingError) in try Self(unpacking: UnsafeRawBufferPointer(buffer)) }
        }
        if outcome == nil {
            let copy = Array(bytes)
            copy.withUnsafeBytes { buffer in
                outcome = Result { () throws(ProtoDecodingError) in try Self(unpacking: buffer) }
            }
        }
        self = try outcome!.get()
    }

    /// Decodes from a raw buffer; the buffer is only read during the call.
    public init(unpacking buffer: UnsafeRawBufferPointer) throws(ProtoDecodingError) {
        let arena = ProtobufCArena()
        let message = try Self._protobufC.unpack(buffer, arena: arena)
        self = try withExtendedLifetime(arena) { () throws(ProtoDecodingError) in try Self(_protobufC: message) }
    }

    /// Encodes the message to protobuf wire bytes (map entries in key order, so equal
    /// values give equal bytes).
    public func serializedBytes() -> [UInt8] {
        withCMessage { Self._protobufC.pack($0) }
    }

    /// Size in bytes of ``serializedBytes()``.
    public func serializedSize() -> Int {
        withCMessage { Self._protobufC.packedSize($0) }
    }

    /// Runs `body` with this value copied into its C struct; the pointer is valid during
    /// the call only.
    private func withCMessage<R>(_ body: (UnsafeRawPointer) -> R) -> R {
        let arena = ProtobufCArena()
        let message = arena.allocate(byteCount: Self._protobufC.size)
        _protobufCWrite(to: message, arena: arena)
        return withExtendedLifetime(arena) { body(UnsafeRawPointer(message)) }
    }
}

/// Why bytes could not be decoded as a message.
public struct ProtoDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// protobuf-c rejected the bytes: truncated, a wire type that does not match the
        /// field, a length past the end, an unsupported group, or out of memory.
        case malformed
        /// A string field holds bytes that are not UTF-8.
        case invalidUTF8
        /// A string field holds U+0000, which protobuf-c would cut the string at ("abc\0x"
        /// would read as "abc"): refused so that no id can stand for another.
        case nulCharacter
    }

    public var reason: Reason
    /// The proto message name for `.malformed`; the field's full proto name
    /// (`ultracore.holdings.v1.Position.ticker`) for `.invalidUTF8` and `.nulCharacter`.
    public var subject: String

    public init(_ reason: Reason, _ subject: String) {
        self.reason = reason
        self.subject = subject
    }

    public var description: String {
        switch reason {
        case .malformed: return "bytes are not a valid \(subject) message"
        case .invalidUTF8: return "field \(subject) is not valid UTF-8"
        case .nulCharacter: return "field \(subject) holds the character U+0000"
        }
    }
}
