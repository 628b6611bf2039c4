/// Where the event log lives and how the service talks to it.
public struct KafkaConfiguration: Sendable {
    /// `bootstrap.servers`: "host:port,…". Empty means the embedded broker.
    public var brokers: String = ""
    /// Topic names by role (ARCHITECTURE.md defaults).
    public var topics = Topics()
    /// `client.id` prefix of every librdkafka handle.
    public var clientId = "holdingsd"
    /// `linger.ms`: how long the producer waits to fill a batch. 2 ms trades a little
    /// latency for batches of many events under load.
    public var lingerMilliseconds = 2
    /// `message.timeout.ms`: a produce that is not acknowledged in this time fails (the
    /// command answers UNAVAILABLE). Bounds how long an aggregate waits on a lost broker.
    public var messageTimeoutMilliseconds = 10_000
    /// `group.id` of the projector.
    public var projectorGroup = "holdings-projector"
    /// `group.id` of the monitoring agent.
    public var agentGroup = "holdings-agent"
    /// Extra librdkafka properties for every handle (`security.protocol`, `sasl.*`,
    /// `ssl.*`, …), applied last; the escape hatch for a real cluster's security.
    public var additional: [String: String] = [:]

    public init() {}

    /// The log of record is one topic: every event of a client (positions, trades, valuations,
    /// corporate actions, rebalancing runs) goes to the client's partition of `positions`, so a
    /// client's events are totally ordered (a rebalancing run's trades and its completion, a
    /// split and the sale after it) and the projector reads one ordered stream per partition.
    /// Topics per event type would split that order across topics that no consumer could
    /// merge back; a consumer that wants one type routes on the `event-type` record header
    /// without decoding. (Earlier versions configured trades, valuations, corporate-actions and
    /// rebalancing topics that nothing produced to; they are gone.)
    public struct Topics: Sendable, Hashable {
        public var positions = "holdings.positions"
        /// The monitoring agent's alerts and their acknowledgements (AGENT_ALERT,
        /// ALERT_ACKNOWLEDGED): the agent's output, a stream of its own.
        public var agentAlerts = "holdings.agent-alerts"
        /// Records the projector could not apply (not one of `all`: nobody projects it).
        public var deadLetters = "holdings.dead-letters"
        /// OpenLineage run events of the projector and of rebalancing runs, as JSON (not one
        /// of `all`: nobody projects it).
        public var lineage = "holdings.lineage"

        public init() {}

        /// The topics the projector follows into Postgres.
        public var all: [String] { [positions, agentAlerts] }
    }
}

/// A Kafka failure as the service sees it.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// librdkafka's error code (rd_kafka_resp_err_t), negative for local errors.
    public var code: Int32
    public var message: String
    /// True when the broker may have written the record although the produce failed
    /// (an idempotent produce that timed out in flight): the aggregate's state is unknown
    /// until the log is read back.
    public var possiblyPersisted = false

    public var description: String { message }

    public init(code: Int32, message: String, possiblyPersisted: Bool = false) {
        self.code = code
        self.message = message
        self.possiblyPersisted = possiblyPersisted
    }
}

/// One record to produce.
public struct OutgoingRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var key: [UInt8]
    public var value: [UInt8]
    public var headers: [(String, [UInt8])]

    public init(topic: String, partition: Int32, key: [UInt8], value: [UInt8], headers: [(String, [UInt8])]) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// Where an acknowledged record landed.
public struct Delivery: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// A record read from the log.
public struct ConsumedRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]
    public var value: [UInt8]
    public var headers: [String: [UInt8]]
    /// The record's timestamp (producer create time, or log append time when the topic says
    /// so), milliseconds since 1970; nil when the record has none.
    public var timestampMilliseconds: Int64?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8], value: [UInt8], headers: [String: [UInt8]],
                timestampMilliseconds: Int64? = nil) {
        self.timestampMilliseconds = timestampMilliseconds
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// Partition of an aggregate's records: FNV-1a of the key, so the service knows the
/// partition before producing (for per-partition backpressure) and every event of an
/// aggregate lands in one partition, in order.
public func partition(forKey key: some Sequence<UInt8>, partitions: Int32) -> Int32 {
    var hash: UInt32 = 2_166_136_261
    for byte in key {
        hash ^= UInt32(byte)
        hash = hash &* 16_777_619
    }
    return Int32(hash % UInt32(max(1, partitions)))
}
