import GRPCTransport
import Testing

@Suite("Receive progress (frame boundaries for the connection time limits)")
struct ReceiveProgressTests {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func frame(length: Int) -> [UInt8] {
        [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), 4, 0, 0, 0, 0, 0] + [UInt8](repeating: 7, count: length)
    }

    func feed(_ progress: inout ReceiveProgress, _ bytes: [UInt8], at now: ContinuousClock.Instant) {
        bytes.withUnsafeBytes { progress.receive($0, at: now) }
    }

    @Test("the handshake is done after the preface and a first frame, whatever the chunking")
    func handshake() {
        let stream = Self.preface + Self.frame(length: 0) + Self.frame(length: 30) + Self.frame(length: 5)
        for chunk in [1, 2, 7, 9, 24, 1000] {
            var progress = ReceiveProgress()
            let now = ContinuousClock.now
            var sawDone = false
            for start in stride(from: 0, to: stream.count, by: chunk) {
                feed(&progress, Array(stream[start..<min(stream.count, start + chunk)]), at: now)
                if start + chunk < Self.preface.count + 9 { #expect(!progress.handshakeDone) }
                sawDone = sawDone || progress.handshakeDone
            }
            #expect(sawDone && progress.framesCompleted == 3 && progress.unfinishedSince == nil)
        }
    }

    @Test("an unfinished frame keeps the instant it began and its size; a finished one clears it")
    func unfinished() {
        var progress = ReceiveProgress()
        let start = ContinuousClock.now
        feed(&progress, Self.preface + Self.frame(length: 0), at: start)
        let frame = Self.frame(length: 100)
        feed(&progress, Array(frame[0..<4]), at: start + .seconds(1))
        #expect(progress.unfinishedSince == start + .seconds(1) && progress.unfinishedSize == 9)
        feed(&progress, Array(frame[4..<50]), at: start + .seconds(2))
        #expect(progress.unfinishedSince == start + .seconds(1) && progress.unfinishedSize == 109)
        feed(&progress, Array(frame[50...]), at: start + .seconds(3))
        #expect(progress.unfinishedSince == nil && progress.framesCompleted == 2)
    }

    @Test("the slowloris allowance grows with the size at the minimum rate")
    func allowance() {
        var limits = ConnectionLimits()
        limits.receiveGrace = .seconds(10)
        limits.minReceiveRate = 1000
        #expect(limits.allowance(forBytes: 5000) == .seconds(15))
        #expect(limits.checkInterval == .seconds(1))
        limits.idleTimeout = .seconds(1)
        #expect(limits.checkInterval == .milliseconds(250))
    }
}
