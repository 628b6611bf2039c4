internal import CRDKafka
import Foundation
import Synchronization

/// Idempotent Kafka producer (`enable.idempotence=true`, hence `acks=all`, ordered
/// retries). `send` suspends until the broker acknowledged (or refused) every record:
/// delivery reports arrive on the producer's own polling thread and resume the caller,
/// so no event loop or pool thread ever blocks on Kafka.
///
/// `@unchecked Sendable`: the librdkafka handle is thread-safe; the only mutable Swift
/// state is `running`, an atomic.
public final class EventProducer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let running = RunFlag()
    private let pollerDone = DispatchSemaphore(value: 0)

    public init(configuration: KafkaConfiguration, bootstrap: String) throws(KafkaError) {
        var properties: [(String, String)] = [
            ("bootstrap.servers", bootstrap),
            ("client.id", configuration.clientId + "-producer"),
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", String(configuration.lingerMilliseconds)),
            ("batch.num.messages", "10000"),
            ("message.timeout.ms", String(configuration.messageTimeoutMilliseconds)),
            ("socket.keepalive.enable", "true"),
            // Reconnect to a broker that came back within a second, not librdkafka's 10 s.
            ("reconnect.backoff.max.ms", "1000"),
        ]
        properties += configuration.additional.sorted { $0.key < $1.key }
        handle = try makeHandle(type: RD_KAFKA_PRODUCER, properties: properties) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReport)
        }
        let handle = SharedHandle(pointer: self.handle)
        let running = self.running
        let done = pollerDone
        let thread = Thread {
            while running.value.load(ordering: .relaxed) { rd_kafka_poll(handle.pointer, 100) }
            done.signal()
        }
        thread.name = "kafka-producer-poll"
        thread.start()
    }

    deinit {
        rd_kafka_flush(handle, 5000)
        running.value.store(false, ordering: .relaxed)
        pollerDone.wait()
        rd_kafka_destroy(handle)
    }

    /// Produces `records` in order and waits for every acknowledgement. Returns one
    /// result per record, in order. Records of one aggregate go to one partition in order
    /// (idempotence keeps them ordered across retries).
    public func send(_ records: [OutgoingRecord]) async -> [Result<Delivery, KafkaError>] {
        await withCheckedContinuation { continuation in
            let batch = DeliveryBatch(count: records.count, continuation: continuation)
            for (index, record) in records.enumerated() {
                let opaque = Unmanaged.passRetained(DeliveryTicket(batch: batch, index: index, topic: record.topic)).toOpaque()
                let code = produce(record, opaque: opaque)
                if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                    // No delivery report will come for this record: take the ticket back here.
                    Unmanaged<DeliveryTicket>.fromOpaque(opaque).release()
                    batch.complete(index, .failure(kafkaError(code, "produce to \(record.topic)[\(record.partition)]")))
                }
            }
        }
    }

    private func produce(_ record: OutgoingRecord, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        let headers = rd_kafka_headers_new(record.headers.count)
        for (name, value) in record.headers {
            value.withUnsafeBytes { bytes in
                _ = rd_kafka_header_add(headers, name, -1, bytes.baseAddress, bytes.count)
            }
        }
        let code = record.key.withUnsafeBytes { key in
            record.value.withUnsafeBytes { value in
                holdings_rd_kafka_produce(handle, record.topic, record.partition, key.baseAddress, key.count,
                                          value.baseAddress, value.count, headers, opaque)
            }
        }
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { rd_kafka_headers_destroy(headers) }
        return code
    }

    /// Partitions of `topic`, from the cluster's metadata.
    public func partitionCount(of topic: String, timeoutMilliseconds: Int32 = 10_000) throws(KafkaError) -> Int32 {
        try Metadata.partitionCount(handle, topic: topic, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// The id of the cluster; blocks for a broker round trip.
    public func clusterId(timeoutMilliseconds: Int32 = 10_000) throws(KafkaError) -> String {
        try Metadata.clusterId(handle, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// (low, high) watermarks of a partition; blocks for a broker round trip.
    public func watermarks(topic: String, partition: Int32, timeoutMilliseconds: Int32 = 10_000) throws(KafkaError) -> (low: Int64, high: Int64) {
        try Metadata.watermarks(handle, topic: topic, partition: partition, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Waits (blocking) until every queued record is delivered or `timeout` passes.
    public func flush(timeoutMilliseconds: Int32) {
        rd_kafka_flush(handle, timeoutMilliseconds)
    }
}

/// Collects the delivery results of one `send` and resumes it once.
private final class DeliveryBatch: Sendable {
    private let state: Mutex<(results: [Result<Delivery, KafkaError>?], remaining: Int)>
    private let continuation: CheckedContinuation<[Result<Delivery, KafkaError>], Never>

    init(count: Int, continuation: CheckedContinuation<[Result<Delivery, KafkaError>], Never>) {
        state = Mutex((Array(repeating: nil, count: count), count))
        self.continuation = continuation
        if count == 0 { continuation.resume(returning: []) }
    }

    func complete(_ index: Int, _ result: Result<Delivery, KafkaError>) {
        let done: [Result<Delivery, KafkaError>]? = state.withLock { state in
            state.results[index] = result
            state.remaining -= 1
            return state.remaining == 0 ? state.results.map { $0! } : nil
        }
        if let done { continuation.resume(returning: done) }
    }
}

/// The per-record opaque: retained when produced, released by its delivery report.
private final class DeliveryTicket {
    let batch: DeliveryBatch
    let index: Int
    let topic: String

    init(batch: DeliveryBatch, index: Int, topic: String) {
        self.batch = batch
        self.index = index
        self.topic = topic
    }
}

private let deliveryReport: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let ticket = Unmanaged<DeliveryTicket>.fromOpaque(opaque).takeRetainedValue()
    let partition = message.pointee.partition
    if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        ticket.batch.complete(ticket.index, .success(Delivery(topic: ticket.topic, partition: partition, offset: message.pointee.offset)))
    } else {
        var error = kafkaError(message.pointee.err, "delivery to \(ticket.topic)[\(partition)]")
        error.possiblyPersisted = rd_kafka_message_status(message) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED
        ticket.batch.complete(ticket.index, .failure(error))
    }
}

/// Tells the polling thread to stop.
private final class RunFlag: Sendable {
    let value = Atomic<Bool>(true)
}
