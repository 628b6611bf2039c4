import EventLog
import Foundation
import RPCCore
import Store
import Synchronization

/// How holdingsd runs its event backbone.
public struct BackboneConfiguration: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        /// API (write model, gRPC) and projector in one process.
        case all
        /// API only; another process projects.
        case api
        /// Projector only.
        case projector
        /// The monitoring agent only, acting through an API process (needs a real cluster).
        case agent
    }

    public var role: Role = .all
    public var kafka = KafkaConfiguration()
    /// Partitions per topic of the embedded broker.
    public var embeddedPartitions: Int32 = 16
    /// libpq URL of the database.
    public var databaseURL = "postgresql://postgres@127.0.0.1:55432/holdings"
    /// Unprojected events allowed per partition before writes are refused (ProjectionGate).
    public var maxProjectionLag = 5000
    /// Postgres connections for reads.
    public var readConnections = 4
    /// Events a WatchEvents subscriber may fall behind before it is cut off.
    public var watchBuffer = 10_000
    /// With the embedded broker, how long a write waits for its Postgres commit before it is
    /// answered DEADLINE_EXCEEDED (outcome unknown until Postgres is back).
    public var durableAckTimeout = Duration.seconds(10)

    public init() {}
}

/// The running backbone: broker (embedded or not), producer, projector, write model.
public final class Backbone: Sendable {
    public let configuration: BackboneConfiguration
    public let bootstrap: String
    public let embeddedBroker: EmbeddedBroker?
    public let producer: EventProducer?
    public let projector: Projector?
    public let gate: ProjectionGate
    public let model: WriteModel?
    private let watcher: Task<Void, Never>?

    /// Migrates the database, connects to (or starts) the broker, starts the projector and
    /// rebuilds the write model, logging each step. Throws what keeps the service from starting.
    public init(configuration: BackboneConfiguration) async throws {
        self.configuration = configuration
        let url = configuration.databaseURL
        let applied: [String] = try await Blocking.run {
            var attempt = 0
            while true {
                do {
                    let connection = try PostgresConnection(url: url)
                    return try Migrations.apply(try Migrations.bundled(), on: connection)
                } catch let error as PostgresError where error.kind == .connection && attempt < 60 {
                    attempt += 1
                    if attempt == 1 { Log.error("store", "postgres unavailable (\(error)); retrying for 30 s") }
                    Thread.sleep(forTimeInterval: 0.5)
                }
            }
        }
        Log.info("store", applied.isEmpty ? "schema up to date" : "migrations applied: \(applied.joined(separator: ", "))")

        var kafka = configuration.kafka
        if kafka.brokers.isEmpty {
            let broker = try EmbeddedBroker(brokers: 3, topics: kafka.topics.all + [kafka.topics.deadLetters, kafka.topics.lineage],
                                            partitions: configuration.embeddedPartitions)
            embeddedBroker = broker
            kafka.brokers = broker.bootstrap
            Log.info("event-log", "embedded broker (librdkafka mock cluster, 3 brokers, replication factor 3, \(configuration.embeddedPartitions) partitions per topic) at \(broker.bootstrap)")
        } else {
            embeddedBroker = nil
            Log.info("event-log", "brokers \(kafka.brokers)")
        }
        bootstrap = kafka.brokers
        gate = ProjectionGate(maxLag: configuration.maxProjectionLag)

        if configuration.role == .agent && embeddedBroker != nil {
            throw RPCError(.failedPrecondition, "--role agent needs --kafka-brokers: it follows the log an API process writes, not a log of its own")
        }
        if configuration.role == .all || configuration.role == .projector {
            // Dead letters and lineage go to their topics through a producer of their own (best
            // effort: the dead_letters table is the record, the topics are notices).
            let deadLetterProducer = try? EventProducer(configuration: kafka, bootstrap: kafka.brokers)
            let sink: @Sendable ([OutgoingRecord]) -> Void = { records in
                guard let deadLetterProducer else { return }
                Task.detached {
                    for case .failure(let error) in await deadLetterProducer.send(records) {
                        Log.error("projector", "notice not copied to its topic: \(error)")
                    }
                }
            }
            let projector = Projector(configuration: kafka, bootstrap: kafka.brokers, databaseURL: url, gate: gate,
                                      noticeSink: sink)
            projector.start()
            self.projector = projector
        } else {
            projector = nil
        }
        if configuration.role == .projector {
            producer = nil
            model = nil
            watcher = nil
            return
        }
        if configuration.role == .agent {
            producer = try EventProducer(configuration: kafka, bootstrap: kafka.brokers)
            model = nil
            watcher = nil
            return
        }
        let producer = try EventProducer(configuration: kafka, bootstrap: kafka.brokers)
        self.producer = producer
        let topic = kafka.topics.positions
        let partitions = try await Blocking.run { try producer.partitionCount(of: topic) }
        let alertTopic = kafka.topics.agentAlerts
        let alertPartitions = try await Blocking.run { try producer.partitionCount(of: alertTopic) }
        let pool = PostgresPool(url: url, size: configuration.readConnections)
        if configuration.role == .api {
            // No projector here: follow the one that runs elsewhere through its stored offsets.
            let gate = self.gate
            let group = OffsetsKey.of(group: kafka.projectorGroup, clusterId: try await Blocking.run { try producer.clusterId() })
            watcher = Task.detached {
                while !Task.isCancelled {
                    if let offsets = try? await pool.withConnection({ try ReadModels.loadOffsets(group: group, on: $0) }) {
                        for (key, next) in offsets { gate.projected(key, next: next) }
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        } else {
            watcher = nil
        }
        let model = WriteModel(producer: producer, gate: gate, topics: kafka.topics, partitions: partitions, pool: pool,
                               projectorGroup: kafka.projectorGroup, watchBuffer: configuration.watchBuffer,
                               ackAfterProjection: embeddedBroker == nil ? nil : configuration.durableAckTimeout,
                               alertPartitions: alertPartitions)
        self.model = model
        let projector = self.projector
        if let projector {
            // Serve only once the projector follows the log: reads wait on it.
            var waited = 0
            while !projector.isAssigned {
                if let failure = projector.fatalError { throw RPCError(.internal, failure) }
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
                if waited % 500 == 0 { Log.info("projector", "waiting for the consumer group to assign partitions") }
            }
        }
        try await model.rebuild { message in
            if let failure = projector?.fatalError { Log.error("write-model", failure) }
            Log.info("write-model", message)
        }
    }

    /// `init` from synchronous code (a process's main thread before it serves): blocks
    /// the calling thread, never a pool thread, until the backbone is up.
    public static func startBlocking(configuration: BackboneConfiguration) throws -> Backbone {
        try Blocking.wait { try await Backbone(configuration: configuration) }
    }

    /// Stops the projector (after its batch) and flushes the producer.
    public func stop() {
        watcher?.cancel()
        projector?.stop()
        producer?.flush(timeoutMilliseconds: 5000)
    }
}
