package import CProtobufC
import Glibc

/// The protobuf-c descriptor of one generated message type.
///
/// `@unchecked Sendable`: the descriptor is a `const` static in the generated C code,
/// never written after the program loads.
public struct ProtobufCMessageType: @unchecked Sendable {
    package let descriptor: UnsafePointer<ProtobufCMessageDescriptor>
    /// `sizeof` the message's C struct, in bytes.
    public let size: Int

    /// Finds the descriptor by running the message's generated `…__init` function on a
    /// scratch struct (Swift cannot take the address of an imported C constant).
    package init<CMessage>(_ initialize: (UnsafeMutablePointer<CMessage>) -> Void) {
        let scratch = UnsafeMutablePointer<CMessage>.allocate(capacity: 1)
        defer { scratch.deallocate() }
        initialize(scratch)
        let base = UnsafeRawPointer(scratch).assumingMemoryBound(to: ProtobufCMessage.self)
        descriptor = base.pointee.descriptor
        size = Int(descriptor.pointee.sizeof_message)
        precondition(size == MemoryLayout<CMessage>.size, "protobuf-c descriptor and C struct disagree")
    }

    /// The fully qualified proto name recorded by protoc-c.
    public var protoName: String { String(cString: descriptor.pointee.name) }

    /// Parses `buffer` with every allocation taken from `arena`; the result lives as long
    /// as the arena (nothing to free one by one, also when protobuf-c fails half-way).
    func unpack(_ buffer: UnsafeRawBufferPointer, arena: ProtobufCArena) throws(ProtoDecodingError) -> UnsafeRawPointer {
        var empty: UInt8 = 0
        let message = withUnsafePointer(to: &empty) { emptyPointer in
            let data = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer
            return withExtendedLifetime(arena) {
                var allocator = ProtobufCAllocator(
                    // `data` is always `allocator_data` below (protobuf-c passes it back unchanged), never request bytes.
                    alloc: { data, size in
                        ArenaState.allocateMeasured(data!.assumingMemoryBound(to: ArenaState.self), size)
                    },
                    free: { _, _ in },
                    allocator_data: UnsafeMutableRawPointer(arena.state))
                return protobuf_c_message_unpack(descriptor, &allocator, buffer.count, data)
            }
        }
        guard let message else {
            throw ProtoDecodingError(.malformed, String(cString: descriptor.pointee.name))
        }
        return UnsafeRawPointer(message)
    }

    func packedSize(_ message: UnsafeRawPointer) -> Int {
        protobuf_c_message_get_packed_size(message.assumingMemoryBound(to: ProtobufCMessage.self))
    }

    func pack(_ message: UnsafeRawPointer) -> [UInt8] {
        let typed = message.assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(typed)
        guard size > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = protobuf_c_message_pack(typed, buffer.baseAddress!)
            precondition(count == size, "protobuf-c packed \(count) bytes, announced \(size)")
        }
    }
}

/// The bump allocator behind ``ProtobufCArena``: plain memory, no reference counting, so
/// protobuf-c's allocation callback can use it directly. Blocks form a list through their
/// first word.
struct ArenaState {
    static let blockSize = 16 * 1024
    static let alignment = 16
    static let header = 16  // room for the link to the previous block, keeping alignment

    var lastBlock: UnsafeMutableRawPointer?
    var cursor: UnsafeMutableRawPointer?
    var remaining = 0

    static func allocate(_ state: UnsafeMutablePointer<ArenaState>, _ byteCount: Int) -> UnsafeMutableRawPointer {
        let rounded = (max(byteCount, 1) + alignment - 1) & ~(alignment - 1)
        if rounded > state.pointee.remaining {
            if rounded > blockSize / 4 {
                return newBlock(state, payload: rounded)
            }
            state.pointee.cursor = newBlock(state, payload: blockSize)
            state.pointee.remaining = blockSize
        }
        let result = state.pointee.cursor!
        state.pointee.cursor = result + rounded
        state.pointee.remaining -= rounded
        return result
    }

    /// Tags the 16 bytes in front of every block protobuf-c allocates while unpacking.
    static let measuredTag: UInt64 = 0x5543_4D45_4153_5552

    /// `byteCount` bytes for protobuf-c's unpack, preceded by the tag and `byteCount`: a
    /// string field gets exactly its wire length + 1 bytes, so ``ProtobufCRead/string(_:_:)``
    /// can tell a string protobuf-c cut at a U+0000 from one that really ends there.
    static func allocateMeasured(_ state: UnsafeMutablePointer<ArenaState>, _ byteCount: Int) -> UnsafeMutableRawPointer {
        let block = allocate(state, byteCount + header)
        block.storeBytes(of: measuredTag, as: UInt64.self)
        block.storeBytes(of: UInt64(byteCount), toByteOffset: 8, as: UInt64.self)
        return block + header
    }

    /// The size protobuf-c asked for `pointer` during an unpack; nil for memory that did not
    /// come from ``allocateMeasured(_:_:)`` (a default value in the descriptor).
    static func measuredSize(_ pointer: UnsafeRawPointer) -> Int? {
        if UnsafeRawPointer(ultracore_protobuf_c_empty_string()) == pointer { return nil }
        let header = pointer - header
        guard header.loadUnaligned(as: UInt64.self) == measuredTag else { return nil }
        return Int(header.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }

    /// Links a new block holding `payload` bytes and returns its payload.
    private static func newBlock(_ state: UnsafeMutablePointer<ArenaState>, payload: Int) -> UnsafeMutableRawPointer {
        let block = UnsafeMutableRawPointer.allocate(byteCount: header + payload, alignment: alignment)
        block.storeBytes(of: state.pointee.lastBlock, as: UnsafeMutableRawPointer?.self)
        state.pointee.lastBlock = block
        return block + header
    }

    static func releaseAll(_ state: UnsafeMutablePointer<ArenaState>) {
        var block = state.pointee.lastBlock
        while let current = block {
            block = current.load(as: UnsafeMutableRawPointer?.self)
            current.deallocate()
        }
        state.pointee = ArenaState()
    }
}

/// Memory for the C structs, strings and arrays of one message being packed or unpacked;
/// all of it is released together when the arena is released. Not thread-safe: one
/// encode or decode uses one arena on one thread.
public final class ProtobufCArena {
    let state: UnsafeMutablePointer<ArenaState>

    public init() {
        state = .allocate(capacity: 1)
        state.initialize(to: ArenaState())
    }

    deinit {
        ArenaState.releaseAll(state)
        state.deallocate()
    }

    /// `byteCount` zeroed bytes aligned to 16, valid until the arena is released.
    public func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let result = allocateUninitialized(byteCount: byteCount)
        result.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        return result
    }

    /// `byteCount` bytes aligned to 16 with undefined contents, valid until the arena is released.
    @inline(__always)
    func allocateUninitialized(byteCount: Int) -> UnsafeMutableRawPointer {
        ArenaState.allocate(state, byteCount)
    }

    package func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        precondition(MemoryLayout<T>.alignment <= ArenaState.alignment)
        return allocate(byteCount: MemoryLayout<T>.stride * count).bindMemory(to: T.self, capacity: count)
    }

    /// A NUL-terminated copy of `string`. protobuf-c measures strings with `strlen`, so a
    /// string holding U+0000 is cut at that character.
    package func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let target = allocate(CChar.self, count: utf8.count + 1)
            if let base = utf8.baseAddress {
                UnsafeMutableRawPointer(target).copyMemory(from: base, byteCount: utf8.count)
            }
            target[utf8.count] = 0
            return target
        }
    }

    package func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let target = allocate(UInt8.self, count: bytes.count)
        bytes.withUnsafeBufferPointer { target.initialize(from: $0.baseAddress!, count: bytes.count) }
        return ProtobufCBinaryData(len: bytes.count, data: target)
    }

    /// A C array holding `values`; nil when empty (protobuf-c reads `count` first).
    package func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let target = allocate(T.self, count: values.count)
        for index in values.indices { target[index] = values[index] }
        return target
    }

    package func strings(_ values: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        guard !values.isEmpty else { return nil }
        let target = allocate(UnsafeMutablePointer<CChar>?.self, count: values.count)
        for index in values.indices { target[index] = string(values[index]) }
        return target
    }

    package func binaries(_ values: [[UInt8]]) -> UnsafeMutablePointer<ProtobufCBinaryData>? {
        array(values.map { binary($0) })
    }

    /// The C struct of `message`, filled in.
    package func message<M: ProtoMessage, CMessage>(_ message: M, as type: CMessage.Type) -> UnsafeMutablePointer<CMessage> {
        let raw = allocate(byteCount: M._protobufC.size)
        message._protobufCWrite(to: raw, arena: self)
        return raw.assumingMemoryBound(to: CMessage.self)
    }

    /// A C array of pointers to the C structs of `messages`; nil when empty.
    package func messages<M: ProtoMessage, CMessage>(
        _ messages: [M], as type: CMessage.Type
    ) -> UnsafeMutablePointer<UnsafeMutablePointer<CMessage>?>? {
        guard !messages.isEmpty else { return nil }
        let target = pointers(CMessage.self, count: messages.count)
        for index in messages.indices { target[index] = message(messages[index], as: CMessage.self) }
        return target
    }

    package func pointers<CMessage>(_ type: CMessage.Type, count: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<CMessage>?> {
        allocate(UnsafeMutablePointer<CMessage>?.self, count: count)
    }
}

/// Reading unpacked C structs into Swift values; used by generated code.
package enum ProtobufCRead {
    /// A proto string field; `field` is its full proto name, for the error.
    @inline(__always)
    package static func string(_ pointer: UnsafeMutablePointer<CChar>?, _ field: @autoclosure () -> String) throws(ProtoDecodingError) -> String {
        guard let pointer else { return "" }
        let length = strlen(pointer)
        if let allocated = ArenaState.measuredSize(UnsafeRawPointer(pointer)), allocated != length + 1 {
            throw ProtoDecodingError(.nulCharacter, field())
        }
        if length == 0 { return "" }
        guard let value = String(validatingCString: pointer) else {
            throw ProtoDecodingError(.invalidUTF8, field())
        }
        return value
    }

    @inline(__always)
    package static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    @inline(__always)
    package static func scalars<T>(_ count: Int, _ pointer: UnsafeMutablePointer<T>?) -> [T] {
        guard count > 0, let pointer else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    @inline(__always)
    package static func repeated<C, T>(
        _ count: Int, _ pointer: UnsafeMutablePointer<C>?, _ convert: (C) throws(ProtoDecodingError) -> T
    ) throws(ProtoDecodingError) -> [T] {
        guard count > 0, let pointer else { return [] }
        var result: [T] = []
        result.reserveCapacity(count)
        for index in 0..<count { result.append(try convert(pointer[index])) }
        return result
    }

    @inline(__always)
    package static func message<M: ProtoMessage, CMessage>(
        _ pointer: UnsafeMutablePointer<CMessage>?, as type: M.Type = M.self
    ) throws(ProtoDecodingError) -> M? {
        guard let pointer else { return nil }
        return try M(_protobufC: UnsafeRawPointer(pointer))
    }

    @inline(__always)
    package static func requiredMessage<M: ProtoMessage, CMessage>(
        _ pointer: UnsafeMutablePointer<CMessage>?, as type: M.Type = M.self
    ) throws(ProtoDecodingError) -> M {
        guard let pointer else { return M() }
        return try M(_protobufC: UnsafeRawPointer(pointer))
    }
}
