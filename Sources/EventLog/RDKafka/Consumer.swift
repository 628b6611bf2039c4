internal import CRDKafka
import Foundation

/// A member of the projector's consumer group. Partition assignment comes from the group
/// protocol; the start offset of every assigned partition comes from `startOffsets`
/// (Postgres), never from Kafka's committed offsets, so the offsets and the projected
/// rows always move together.
///
/// Not `Sendable`: one projector thread owns it and does every call, including the
/// blocking ones (`poll`, the rebalance callback reading Postgres).
public final class EventConsumer {
    public typealias StartOffsets = ([(topic: String, partition: Int32)]) -> [(topic: String, partition: Int32, offset: Int64)]

    private let handle: OpaquePointer
    private let owner: RebalanceOwner
    private var closed = false

    /// Joins `configuration.projectorGroup` and subscribes to `topics`. `startOffsets` is
    /// called on this thread (inside `poll`) for every new assignment; it may block
    /// until it can answer.
    public init(configuration: KafkaConfiguration, bootstrap: String, topics: [String],
                startOffsets: @escaping StartOffsets) throws(KafkaError) {
        owner = RebalanceOwner(startOffsets: startOffsets)
        var properties: [(String, String)] = [
            ("bootstrap.servers", bootstrap),
            ("client.id", configuration.clientId + "-projector"),
            ("group.id", configuration.projectorGroup),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            // An offset the log no longer holds means events were lost: stop, never skip.
            ("auto.offset.reset", "error"),
            ("enable.partition.eof", "false"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
            ("fetch.wait.max.ms", "5"),
            ("fetch.error.backoff.ms", "50"),
            ("socket.keepalive.enable", "true"),
            // Reconnect to a broker that came back within a second, not librdkafka's 10 s.
            ("reconnect.backoff.max.ms", "1000"),
        ]
        properties += configuration.additional.sorted { $0.key < $1.key }
        let opaque = Unmanaged.passUnretained(owner).toOpaque()
        handle = try makeHandle(type: RD_KAFKA_CONSUMER, properties: properties) { conf in
            rd_kafka_conf_set_rebalance_cb(conf, rebalance)
            rd_kafka_conf_set_opaque(conf, opaque)
        }
        rd_kafka_poll_set_consumer(handle)
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let code = rd_kafka_subscribe(handle, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_destroy(handle)
            throw kafkaError(code, "subscribe to \(topics.joined(separator: ","))")
        }
    }

    deinit {
        close()
        rd_kafka_destroy(handle)
    }

    /// Leaves the group (revoking the assignment). Blocks for a round trip.
    public func close() {
        guard !closed else { return }
        closed = true
        rd_kafka_consumer_close(handle)
    }

    /// Partitions currently assigned to this member.
    public var assignment: [(topic: String, partition: Int32)] { owner.assigned }

    /// Up to `maxRecords` records, waiting at most `timeoutMilliseconds` for the first.
    /// Throws for a fatal log error (an offset out of range: events the log no longer
    /// holds); transient broker errors are reported through `onTransientError`.
    public func poll(maxRecords: Int, timeoutMilliseconds: Int32,
                     onTransientError: (KafkaError) -> Void = { _ in }) throws(KafkaError) -> [ConsumedRecord] {
        var records: [ConsumedRecord] = []
        var timeout = timeoutMilliseconds
        while records.count < maxRecords {
            guard let message = rd_kafka_consumer_poll(handle, timeout) else { break }
            timeout = 0
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                let error = kafkaError(m.err, "consume \(topic)[\(m.partition)]@\(m.offset)")
                if m.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE || m.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET {
                    throw error
                }
                onTransientError(error)
                continue
            }
            let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) } ?? []
            let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
            var headers: [String: [UInt8]] = [:]
            var list: OpaquePointer?
            if rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
                var index = 0
                var name: UnsafePointer<CChar>?
                var bytes: UnsafeRawPointer?
                var size = 0
                while rd_kafka_header_get_all(list, index, &name, &bytes, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                    if let name { headers[String(cString: name)] = bytes.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? [] }
                    index += 1
                }
            }
            var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(message, &timestampType)
            records.append(ConsumedRecord(topic: topic, partition: m.partition, offset: m.offset, key: key, value: value, headers: headers,
                                          timestampMilliseconds: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || timestamp < 0 ? nil : timestamp))
        }
        return records
    }

    /// The id of the cluster; blocks for a broker round trip.
    public func clusterId(timeoutMilliseconds: Int32 = 10_000) throws(KafkaError) -> String {
        try Metadata.clusterId(handle, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// (low, high) watermarks of a partition; blocks for a broker round trip.
    public func watermarks(topic: String, partition: Int32, timeoutMilliseconds: Int32 = 10_000) throws(KafkaError) -> (low: Int64, high: Int64) {
        try Metadata.watermarks(handle, topic: topic, partition: partition, timeoutMilliseconds: timeoutMilliseconds)
    }
}

/// State the rebalance callback reaches through the handle's opaque; owned by the
/// consumer, which outlives the handle.
private final class RebalanceOwner {
    let startOffsets: EventConsumer.StartOffsets
    var assigned: [(topic: String, partition: Int32)] = []

    init(startOffsets: @escaping EventConsumer.StartOffsets) { self.startOffsets = startOffsets }
}

private let rebalance: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?) -> Void = {
    handle, code, partitions, opaque in
    guard let handle, let opaque else { return }
    let owner = Unmanaged<RebalanceOwner>.fromOpaque(opaque).takeUnretainedValue()
    if code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, let partitions {
        var wanted: [(topic: String, partition: Int32)] = []
        for index in 0..<Int(partitions.pointee.cnt) {
            let element = partitions.pointee.elems[index]
            wanted.append((String(cString: element.topic), element.partition))
        }
        let offsets = owner.startOffsets(wanted)
        for index in 0..<Int(partitions.pointee.cnt) {
            let element = partitions.pointee.elems[index]
            let topic = String(cString: element.topic)
            let offset = offsets.first { $0.topic == topic && $0.partition == element.partition }?.offset ?? 0
            partitions.pointee.elems[index].offset = offset
        }
        owner.assigned = wanted
        rd_kafka_assign(handle, partitions)
    } else {
        owner.assigned = []
        rd_kafka_assign(handle, nil)
    }
}
