import CLinux
import HTTP2

/// Moves bytes between a socket (plain or TLS) and an HTTP/2 session, on one event loop.
/// Reading feeds the session; ``flush()`` writes what the session queued, watching for
/// writability only while the socket is full. Output held here stays under
/// `outputLimit`; nghttp2 keeps the rest until the socket drains.
public final class ConnectionIO {
    public let loop: EventLoop
    public let stream: any ByteStream
    public let session: HTTP2Session
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var watchingWrite = false
    private var flushScheduled = false
    /// Reused for every read (a fresh 64 KiB array per readable event was a malloc and a memset each).
    private var readBuffer = [UInt8](repeating: 0, count: 65_536)
    private let outputLimit = 4 << 20
    public private(set) var isClosed = false
    /// Why the connection closed, for logs and for the calls it ends.
    public private(set) var closeReason = ""
    /// Called once, on the loop, when the connection closes.
    public var onClose: ((String) -> Void)?
    /// Called with every chunk of plaintext read, before the session sees it (receive
    /// progress for the connection's time limits).
    public var onReceive: ((UnsafeRawBufferPointer) -> Void)?

    public init(loop: EventLoop, stream: any ByteStream, session: HTTP2Session) {
        self.loop = loop
        self.stream = stream
        self.session = session
    }

    /// Starts watching the socket; sends the session's first frames (SETTINGS).
    public func start() {
        loop.preconditionInLoop()
        loop.register(stream.fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue) { [self] events in handle(events) }
        flush()
    }

    private func handle(_ events: UInt32) {
        if events & EPOLLOUT.rawValue != 0 { flush() }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { readAvailable() }
    }

    private func readAvailable() {
        var buffer = readBuffer
        readBuffer = []
        defer { readBuffer = buffer }
        var reads = 0
        while !isClosed && reads < 16 {  // fairness: other connections of the loop get their turn
            reads += 1
            let result = buffer.withUnsafeMutableBytes { stream.read(into: $0) }
            switch result {
            case .transferred(let count):
                if let onReceive { buffer.withUnsafeBytes { onReceive(UnsafeRawBufferPointer(rebasing: $0[0..<count])) } }
                do {
                    try buffer.withUnsafeBytes { try session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                } catch {
                    // Bad preface or protocol error: send what nghttp2 queued (GOAWAY), then close.
                    flush()
                    close("HTTP/2 error: \(error)")
                    return
                }
            case .wouldBlock(let wantsWrite):
                if wantsWrite { watchWrite(true) }
                flush()
                return
            case .closed:
                close("the peer closed the connection")
                return
            case .failed(let reason):
                close(reason)
                return
            }
        }
        flush()
    }

    private func watchWrite(_ on: Bool) {
        guard on != watchingWrite, !isClosed else { return }
        watchingWrite = on
        loop.modify(stream.fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue | (on ? EPOLLOUT.rawValue : 0))
    }

    /// Sends what the session has queued once the loop's current round is done: the calls
    /// that finished in one round share a write.
    public func flushSoon() {
        guard !flushScheduled, !isClosed else { return }
        flushScheduled = true
        loop.runBeforeSleep { [self] in
            flushScheduled = false
            flush()
        }
    }

    /// Sends whatever the session has queued; closes when the session is done.
    public func flush() {
        loop.preconditionInLoop()
        while !isClosed {
            if outputOffset == output.count {
                output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
                outputOffset = 0
            }
            do {
                try session.drainOutput(into: &output, limit: outputLimit)
            } catch {
                close("HTTP/2 error: \(error)")
                return
            }
            if outputOffset == output.count { break }
            let result = output.withUnsafeBytes { stream.write(UnsafeRawBufferPointer(rebasing: $0[outputOffset...])) }
            switch result {
            case .transferred(let count):
                outputOffset += count
            case .wouldBlock(let wantsWrite):
                watchWrite(wantsWrite)
                return
            case .closed:
                close("the peer closed the connection")
                return
            case .failed(let reason):
                close(reason)
                return
            }
        }
        guard !isClosed else { return }
        watchWrite(false)
        if !session.isAlive { close("the HTTP/2 session ended") }
    }

    public func close(_ reason: String) {
        guard !isClosed else { return }
        isClosed = true
        closeReason = reason
        loop.unregister(stream.fd)
        stream.close()
        onClose?(reason)
        onClose = nil
    }
}
