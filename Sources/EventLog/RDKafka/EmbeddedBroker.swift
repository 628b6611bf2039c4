internal import CRDKafka
import Foundation

/// librdkafka's mock cluster: Kafka-protocol brokers on loopback, for a developer machine
/// and tests. Any Kafka client can reach `bootstrap`. It keeps each partition log in
/// memory, drops the oldest data past about 5 MiB or 100,000 message sets per partition,
/// and ignores `acks`: Postgres is what makes events durable here (see ProjectionGate).
///
/// `@unchecked Sendable`: the mock cluster API is thread-safe (it posts to the cluster's
/// own thread); the handles are immutable after init.
public final class EmbeddedBroker: @unchecked Sendable {
    private let handle: OpaquePointer
    private let cluster: OpaquePointer
    public let bootstrap: String
    public let brokerCount: Int32

    /// Starts `brokers` brokers and creates `topics` with `partitions` partitions each and
    /// replication factor min(3, brokers).
    public init(brokers: Int32 = 3, topics: [String], partitions: Int32) throws(KafkaError) {
        handle = try makeHandle(type: RD_KAFKA_PRODUCER, properties: [("client.id", "holdings-embedded-broker"), ("log_level", "3")])
        guard let cluster = rd_kafka_mock_cluster_new(handle, brokers) else {
            rd_kafka_destroy(handle)
            throw KafkaError(code: -1, message: "cannot start the embedded broker")
        }
        self.cluster = cluster
        brokerCount = brokers
        bootstrap = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        for topic in topics {
            let code = rd_kafka_mock_topic_create(cluster, topic, partitions, min(3, brokers))
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                rd_kafka_mock_cluster_destroy(cluster)
                rd_kafka_destroy(handle)
                throw kafkaError(code, "create topic \(topic)")
            }
        }
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(handle)
    }

    // MARK: Fault injection

    /// The next `errors.count` requests of Kafka API `apiKey` (0 = Produce, 1 = Fetch, …)
    /// fail with these error codes, in order.
    public func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        var codes = errors.map { rd_kafka_resp_err_t(rawValue: $0) }
        rd_kafka_mock_push_request_errors_array(cluster, apiKey, codes.count, &codes)
    }

    public func clearRequestErrors(apiKey: Int16) {
        rd_kafka_mock_clear_request_errors(cluster, apiKey)
    }

    /// Takes a broker down (its connections close, it refuses new ones) or back up.
    public func setBroker(_ id: Int32, up: Bool) throws(KafkaError) {
        let code = up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw kafkaError(code, "broker \(id)") }
    }

    /// Moves the leadership of a partition to `broker`.
    public func setLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        let code = rd_kafka_mock_partition_set_leader(cluster, topic, partition, broker)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw kafkaError(code, "leader of \(topic)[\(partition)]") }
    }

    /// Adds a round-trip delay to every response of `broker`.
    public func setRoundTripTime(broker: Int32, milliseconds: Int32) throws(KafkaError) {
        let code = rd_kafka_mock_broker_set_rtt(cluster, broker, milliseconds)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw kafkaError(code, "rtt of broker \(broker)") }
    }
}
