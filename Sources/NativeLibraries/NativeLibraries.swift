internal import CLibPQ
internal import CNGHTTP2
internal import COpenSSL
internal import CProtobufC
internal import CRDKafka

/// Versions of the C libraries linked into the process, for `--version` and startup logs.
public enum NativeLibraries {
    public static var versions: [(name: String, version: String)] {
        let pq = Int(PQlibVersion())
        return [
            ("nghttp2", String(cString: nghttp2_version(0).pointee.version_str)),
            ("protobuf-c", String(cString: protobuf_c_version())),
            ("librdkafka", String(cString: rd_kafka_version_str())),
            ("libpq", "\(pq / 10000).\(pq % 10000)"),
            ("OpenSSL", String(cString: OpenSSL_version(OPENSSL_VERSION))),
        ]
    }
}
