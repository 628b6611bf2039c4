/// Where a server connection's inbound HTTP/2 byte stream stands: inside the client
/// preface, inside a frame, or between frames. It only counts frame boundaries (the
/// 9-byte frame header's length field); nghttp2 does the parsing. The connection's time
/// limits use it: the handshake is done when the preface and a first frame have arrived,
/// an unfinished frame must not dribble in, keepalive counts whole frames.
public struct ReceiveProgress: Sendable {
    public static let prefaceLength = 24
    public static let frameHeaderLength = 9

    private var prefaceRemaining = Self.prefaceLength
    private var header: [UInt8] = []
    private var payloadRemaining = 0
    /// Whole frames received (the preface not counted).
    public private(set) var framesCompleted = 0
    /// When the unfinished preface or frame began arriving; nil between frames.
    public private(set) var unfinishedSince: ContinuousClock.Instant?
    /// The size of that preface or frame, bytes (header included; 9 while only part of
    /// its header has arrived, so a dribbled frame header is bounded too).
    public private(set) var unfinishedSize = 0

    public init() {}

    /// Whether the preface and at least one frame (the client's SETTINGS) have arrived.
    public var handshakeDone: Bool { prefaceRemaining == 0 && framesCompleted > 0 }

    public mutating func receive(_ bytes: UnsafeRawBufferPointer, at now: ContinuousClock.Instant) {
        var index = 0
        while index < bytes.count {
            if prefaceRemaining > 0 {
                let take = min(prefaceRemaining, bytes.count - index)
                prefaceRemaining -= take
                index += take
                if prefaceRemaining == 0 { unfinishedSince = nil } else { begin(now, size: Self.prefaceLength) }
            } else if header.count < Self.frameHeaderLength {
                let take = min(Self.frameHeaderLength - header.count, bytes.count - index)
                header.append(contentsOf: bytes[index..<(index + take)])
                index += take
                if header.count == Self.frameHeaderLength {
                    payloadRemaining = Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
                    if payloadRemaining == 0 { completeFrame() } else { begin(now, size: Self.frameHeaderLength + payloadRemaining, resize: true) }
                } else {
                    begin(now, size: Self.frameHeaderLength)
                }
            } else {
                let take = min(payloadRemaining, bytes.count - index)
                payloadRemaining -= take
                index += take
                if payloadRemaining == 0 { completeFrame() }
            }
        }
    }

    private mutating func begin(_ now: ContinuousClock.Instant, size: Int, resize: Bool = false) {
        if unfinishedSince == nil {
            unfinishedSince = now
            unfinishedSize = size
        } else if resize {
            unfinishedSize = size
        }
    }

    private mutating func completeFrame() {
        header.removeAll(keepingCapacity: true)
        payloadRemaining = 0
        framesCompleted += 1
        unfinishedSince = nil
        unfinishedSize = 0
    }
}

/// The time and count limits of server connections. Defaults are holdingsd's.
public struct ConnectionLimits: Sendable {
    /// TLS handshake, client preface and first SETTINGS frame must arrive within this.
    public var handshakeTimeout: Duration = .seconds(10)
    /// A connection with no open call for this long gets GOAWAY and is closed.
    public var idleTimeout: Duration = .seconds(300)
    /// Nothing received for this long: the server sends a PING.
    public var keepaliveInterval: Duration = .seconds(60)
    /// A PING not followed by a frame from the client within this closes the connection.
    public var keepaliveTimeout: Duration = .seconds(20)
    /// Open connections per process; more are closed at accept.
    public var maxConnections = 10_000
    /// Open connections per source IP address; more are closed at accept.
    public var maxConnectionsPerAddress = 1_000
    /// An unfinished frame, header block or request message may take this long plus its
    /// size at `minReceiveRate` (slowloris bound).
    public var receiveGrace: Duration = .seconds(10)
    /// Bytes per second an unfinished frame, header block or message must arrive at after
    /// the grace period.
    public var minReceiveRate = 1_024

    public init() {}

    /// How long a piece of `size` bytes may take to arrive.
    public func allowance(forBytes size: Int) -> Duration {
        receiveGrace + .milliseconds(Int64(size) * 1000 / Int64(max(1, minReceiveRate)))
    }

    /// How often the server checks its connections against the limits.
    public var checkInterval: Duration {
        let shortest = [handshakeTimeout, idleTimeout, keepaliveInterval, keepaliveTimeout, receiveGrace].min() ?? .seconds(1)
        return max(.milliseconds(50), min(.seconds(1), shortest / 4))
    }
}
