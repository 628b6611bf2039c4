internal import CRDKafka
import Foundation
import Synchronization

/// Builds an `rd_kafka_conf_t` from key/value pairs; the conf is freed here unless
/// ownership passed to `rd_kafka_new` (which takes it only on success).
func makeHandle(type: rd_kafka_type_t, properties: [(String, String)],
                configure: (OpaquePointer) -> Void = { _ in }) throws(KafkaError) -> OpaquePointer {
    guard let conf = rd_kafka_conf_new() else { throw KafkaError(code: -1, message: "rd_kafka_conf_new failed") }
    var error = [CChar](repeating: 0, count: 512)
    for (key, value) in properties {
        if rd_kafka_conf_set(conf, key, value, &error, error.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: -1, message: "kafka property \(key)=\(value): \(cText(error))")
        }
    }
    configure(conf)
    if KafkaLogging.routed {
        rd_kafka_conf_set_log_cb(conf) { _, level, facility, message in
            KafkaLogging.deliver(level: level, facility: facility.map { String(cString: $0) } ?? "",
                                 message: message.map { String(cString: $0) } ?? "")
        }
    }
    guard let handle = rd_kafka_new(type, conf, &error, error.count) else {
        rd_kafka_conf_destroy(conf)
        throw KafkaError(code: -1, message: "rd_kafka_new: \(cText(error))")
    }
    return handle
}

/// Where librdkafka's own log lines go: to the service's logger once `route` is called
/// (handles made afterwards use it), else librdkafka's default (stderr).
public enum KafkaLogging {
    private static let sink = Mutex<(@Sendable (Int32, String, String) -> Void)?>(nil)

    /// Sends every later handle's log lines (syslog level, facility, message) to `to`.
    public static func route(to handler: @escaping @Sendable (_ level: Int32, _ facility: String, _ message: String) -> Void) {
        sink.withLock { $0 = handler }
    }

    static var routed: Bool { sink.withLock { $0 != nil } }

    static func deliver(level: Int32, facility: String, message: String) {
        sink.withLock { $0 }?(level, facility, message)
    }
}

func kafkaError(_ code: rd_kafka_resp_err_t, _ context: String) -> KafkaError {
    KafkaError(code: code.rawValue, message: "\(context): \(String(cString: rd_kafka_err2str(code)))")
}

/// Partition counts and watermarks, through any handle.
enum Metadata {
    static func partitionCount(_ handle: OpaquePointer, topic: String, timeoutMilliseconds: Int32) throws(KafkaError) -> Int32 {
        guard let topicHandle = rd_kafka_topic_new(handle, topic, nil) else {
            throw KafkaError(code: -1, message: "topic \(topic): cannot create a handle")
        }
        defer { rd_kafka_topic_destroy(topicHandle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(handle, 0, topicHandle, &metadata, timeoutMilliseconds)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw kafkaError(code, "metadata of \(topic)") }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard metadata.pointee.topic_cnt == 1 else { throw KafkaError(code: -1, message: "metadata of \(topic): no topic") }
        let entry = metadata.pointee.topics[0]
        guard entry.err == RD_KAFKA_RESP_ERR_NO_ERROR, entry.partition_cnt > 0 else {
            throw kafkaError(entry.err, "topic \(topic)")
        }
        return entry.partition_cnt
    }

    /// The cluster's id (stable for a real cluster; new for every mock cluster).
    static func clusterId(_ handle: OpaquePointer, timeoutMilliseconds: Int32) throws(KafkaError) -> String {
        guard let id = rd_kafka_clusterid(handle, timeoutMilliseconds) else {
            throw KafkaError(code: -1, message: "no cluster id from the brokers within \(timeoutMilliseconds) ms")
        }
        defer { rd_kafka_mem_free(handle, id) }
        return String(cString: id)
    }

    static func watermarks(_ handle: OpaquePointer, topic: String, partition: Int32,
                           timeoutMilliseconds: Int32) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let code = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, timeoutMilliseconds)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw kafkaError(code, "watermarks of \(topic)[\(partition)]") }
        return (low, high)
    }
}

/// A librdkafka handle crossing threads: `rd_kafka_t` is thread-safe by contract.
struct SharedHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
