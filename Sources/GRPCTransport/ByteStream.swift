import CLinux
import COpenSSL
import Glibc
import RPCCore

/// What one read or write on a non-blocking stream did.
public enum IOResult: Equatable {
    /// Moved this many bytes (> 0).
    case transferred(Int)
    /// Nothing now; wait for readability, or writability when `wantsWrite`.
    case wouldBlock(wantsWrite: Bool)
    /// The peer closed the stream cleanly.
    case closed
    /// The stream failed (reset, TLS alert, bad certificate, ...).
    case failed(String)
}

/// A connected non-blocking byte stream: a TCP socket, or TLS over one.
/// Used on one event loop only.
public protocol ByteStream: AnyObject {
    var fd: Int32 { get }
    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult
    func write(_ bytes: UnsafeRawBufferPointer) -> IOResult
    /// The negotiated application protocol (ALPN), nil without TLS or when none was.
    var applicationProtocol: String? { get }
    /// The certificate the peer presented in the TLS handshake (servers asking for one);
    /// nil without TLS or when it presented none.
    var peerCertificate: PeerCertificate? { get }
    func close()
}

/// A plain TCP socket.
public final class SocketStream: ByteStream {
    public let fd: Int32
    private var isClosed = false

    public init(fd: Int32) { self.fd = fd }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return .transferred(count) }
            if count == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock(wantsWrite: false)
            default: return .failed("recv: \(String(cString: strerror(errno)))")
            }
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        while true {
            let count = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if count >= 0 { return .transferred(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock(wantsWrite: true)
            default: return .failed("send: \(String(cString: strerror(errno)))")
            }
        }
    }

    public var applicationProtocol: String? { nil }
    public var peerCertificate: PeerCertificate? { nil }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }
}

/// TLS over a TCP socket (OpenSSL on the file descriptor); the handshake runs inside
/// the first reads and writes.
public final class TLSStream: ByteStream {
    public let fd: Int32
    private let ssl: OpaquePointer
    private var isClosed = false

    public init(fd: Int32, context: TLSContext, serverName: String? = nil) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw TLSError("SSL_new: \(TLSError.drain())") }
        self.fd = fd
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        _ = SSL_ctrl(ssl, SSL_CTRL_MODE, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), nil)
        if context.isServer {
            SSL_set_accept_state(ssl)
        } else {
            if let serverName {
                _ = serverName.withCString { SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }
                if context.verifyPeer { _ = SSL_set1_host(ssl, serverName) }
            }
            SSL_set_connect_state(ssl)
        }
    }

    deinit { SSL_free(ssl) }

    private func outcome(_ result: Int32, _ operation: String) -> IOResult {
        if result > 0 { return .transferred(Int(result)) }
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ: return .wouldBlock(wantsWrite: false)
        case SSL_ERROR_WANT_WRITE: return .wouldBlock(wantsWrite: true)
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            let code = errno
            let queued = TLSError.drain()
            if !queued.isEmpty { return .failed("TLS \(operation): \(queued)") }
            return code == 0 ? .closed : .failed("TLS \(operation): \(String(cString: strerror(code)))")
        default:
            return .failed("TLS \(operation): \(TLSError.drain())")
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        ERR_clear_error()
        return outcome(SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max)))), "read")
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        ERR_clear_error()
        return outcome(SSL_write(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max)))), "write")
    }

    public var applicationProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The client certificate, verified against the context's CA during the handshake
    /// (the handshake accepts any certificate so that an untrusted one can be refused
    /// per call with a precise status instead of a failed connection).
    public var peerCertificate: PeerCertificate? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        let result = SSL_get_verify_result(ssl)
        guard result == Int(X509_V_OK) else {
            return .untrusted(String(cString: X509_verify_cert_error_string(result)))
        }
        let length = i2d_X509(certificate, nil)
        guard length > 0 else { return .untrusted("the certificate cannot be encoded") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_X509(certificate, &cursor)
        }
        guard written == length else { return .untrusted("the certificate cannot be encoded") }
        return .verified(der)
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = SSL_shutdown(ssl)
        Glibc.close(fd)
    }
}

public struct TLSError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }

    /// OpenSSL's queued errors, as text, clearing the queue.
    static func drain() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        return messages.joined(separator: "; ")
    }
}

/// An OpenSSL context: a server's certificate and key with ALPN `h2`, or a client's
/// trust roots with ALPN `h2` and hostname verification. TLS 1.2 at least.
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    let isServer: Bool
    let verifyPeer: Bool

    /// A server context from PEM files. With `clientCAFile`, clients are asked for a
    /// certificate (mutual TLS): one that chains to a CA of the file is reported
    /// `.verified`, any other `.untrusted` (see ``TLSStream/peerCertificate``); a client
    /// may also present none and authenticate otherwise.
    public init(certificateChainFile: String, privateKeyFile: String, clientCAFile: String? = nil) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError("SSL_CTX_new: \(TLSError.drain())") }
        self.context = context
        isServer = true
        verifyPeer = false
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil)
        guard SSL_CTX_use_certificate_chain_file(context, certificateChainFile) == 1 else {
            throw TLSError("cannot use certificate \(certificateChainFile): \(TLSError.drain())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError("cannot use private key \(privateKeyFile): \(TLSError.drain())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError("the private key does not match the certificate: \(TLSError.drain())")
        }
        if let clientCAFile {
            guard SSL_CTX_load_verify_locations(context, clientCAFile, nil) == 1 else {
                throw TLSError("cannot load client CA \(clientCAFile): \(TLSError.drain())")
            }
            guard let names = SSL_load_client_CA_file(clientCAFile) else {
                throw TLSError("no CA certificate in \(clientCAFile): \(TLSError.drain())")
            }
            SSL_CTX_set_client_CA_list(context, names)
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, { _, _ in 1 })
        }
        // ALPN: gRPC runs over h2 only; a client offering protocols without h2 fails the handshake.
        SSL_CTX_set_alpn_select_cb(context, { _, out, outLength, input, inputLength, _ in
            guard let input else { return SSL_TLSEXT_ERR_ALERT_FATAL }
            var offset = 0
            while offset < Int(inputLength) {
                let length = Int(input[offset])
                if length == 2, offset + 2 < Int(inputLength), input[offset + 1] == UInt8(ascii: "h"), input[offset + 2] == UInt8(ascii: "2") {
                    out?.pointee = input + offset + 1
                    outLength?.pointee = 2
                    return SSL_TLSEXT_ERR_OK
                }
                offset += 1 + length
            }
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }, nil)
    }

    /// A client context trusting `trustRootsFile` (PEM), or the system's roots when nil;
    /// with `certificateChainFile` and `privateKeyFile`, it presents that client
    /// certificate (mutual TLS).
    public init(trustRootsFile: String?, verifyPeer: Bool = true, certificateChainFile: String? = nil, privateKeyFile: String? = nil) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw TLSError("SSL_CTX_new: \(TLSError.drain())") }
        self.context = context
        isServer = false
        self.verifyPeer = verifyPeer
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil)
        if verifyPeer {
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            if let trustRootsFile {
                guard SSL_CTX_load_verify_locations(context, trustRootsFile, nil) == 1 else {
                    throw TLSError("cannot load trust roots \(trustRootsFile): \(TLSError.drain())")
                }
            } else {
                SSL_CTX_set_default_verify_paths(context)
            }
        }
        if let certificateChainFile, let privateKeyFile {
            guard SSL_CTX_use_certificate_chain_file(context, certificateChainFile) == 1,
                  SSL_CTX_use_PrivateKey_file(context, privateKeyFile, SSL_FILETYPE_PEM) == 1,
                  SSL_CTX_check_private_key(context) == 1 else {
                throw TLSError("cannot use client certificate \(certificateChainFile): \(TLSError.drain())")
            }
        }
        let protocols: [UInt8] = [2, UInt8(ascii: "h"), UInt8(ascii: "2")]
        guard SSL_CTX_set_alpn_protos(context, protocols, UInt32(protocols.count)) == 0 else {
            throw TLSError("cannot set ALPN: \(TLSError.drain())")
        }
    }

    deinit { SSL_CTX_free(context) }
}
