import EventLog
import Foundation

/// holdings-broker: the embedded Kafka cluster (librdkafka's mock cluster) as its own
/// process, so that tests can kill holdingsd while the log survives.
///
/// Prints `holdings-broker listening on <bootstrap>` and then reads fault-injection
/// commands on stdin, one per line, answering `ok` or `error: …`:
///   produce-errors CODE[,CODE…]   the next Produce requests fail with these Kafka codes
///   fetch-errors CODE[,CODE…]     the same for Fetch
///   clear-errors                  drop queued request errors
///   broker-down ID | broker-up ID
///   leader TOPIC PARTITION BROKER
///   rtt BROKER MILLISECONDS
/// Exits on EOF of stdin only with --exit-on-eof; otherwise runs until SIGTERM/SIGINT.
func usage() -> String {
    """
    usage: holdings-broker [--brokers N] [--partitions N] [--topics a,b,...] [--exit-on-eof]
      --brokers N       brokers in the cluster (default 3; replication factor min(3, N))
      --partitions N    partitions per topic (default 16)
      --topics LIST     topics to create (default: holdings.positions, holdings.agent-alerts,
                        holdings.dead-letters and holdings.lineage)
    """
}

var brokers: Int32 = 3
var partitions: Int32 = 16
var topics = KafkaConfiguration.Topics().all + [KafkaConfiguration.Topics().deadLetters, KafkaConfiguration.Topics().lineage]
var exitOnEOF = false
var arguments = CommandLine.arguments.dropFirst()
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("holdings-broker: \(message)\n".utf8))
    exit(2)
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--brokers": brokers = Int32(arguments.popFirst() ?? "") ?? { fail("--brokers takes a number") }()
    case "--partitions": partitions = Int32(arguments.popFirst() ?? "") ?? { fail("--partitions takes a number") }()
    case "--topics": topics = (arguments.popFirst() ?? "").split(separator: ",").map(String.init)
    case "--exit-on-eof": exitOnEOF = true
    case "--help", "-h": print(usage()); exit(0)
    default: fail("unknown argument \(argument)\n\(usage())")
    }
}
guard brokers >= 1, partitions >= 1, !topics.isEmpty else { fail("need at least one broker, partition and topic") }

let broker: EmbeddedBroker
do {
    broker = try EmbeddedBroker(brokers: brokers, topics: topics, partitions: partitions)
} catch {
    fail("\(error)")
}
signal(SIGPIPE, SIG_IGN)
say("holdings-broker listening on \(broker.bootstrap) (\(brokers) brokers, \(partitions) partitions per topic)")

@Sendable func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

@Sendable func execute(_ line: String, on broker: EmbeddedBroker) throws {
    let words = line.split(separator: " ").map(String.init)
    func codes(_ text: String?) throws -> [Int32] {
        guard let text, case let values = text.split(separator: ",").compactMap({ Int32($0) }), !values.isEmpty else {
            throw KafkaError(code: -1, message: "expected CODE[,CODE…]")
        }
        return values
    }
    func int(_ index: Int) throws -> Int32 {
        guard index < words.count, let value = Int32(words[index]) else { throw KafkaError(code: -1, message: "expected a number") }
        return value
    }
    switch words.first {
    case "produce-errors": broker.pushRequestErrors(apiKey: 0, errors: try codes(words.dropFirst().first))
    case "fetch-errors": broker.pushRequestErrors(apiKey: 1, errors: try codes(words.dropFirst().first))
    case "clear-errors":
        broker.clearRequestErrors(apiKey: 0)
        broker.clearRequestErrors(apiKey: 1)
    case "broker-down": try broker.setBroker(try int(1), up: false)
    case "broker-up": try broker.setBroker(try int(1), up: true)
    case "leader":
        guard words.count == 4 else { throw KafkaError(code: -1, message: "leader TOPIC PARTITION BROKER") }
        try broker.setLeader(topic: words[1], partition: try int(2), broker: try int(3))
    case "rtt": try broker.setRoundTripTime(broker: try int(1), milliseconds: try int(2))
    default: throw KafkaError(code: -1, message: "unknown command '\(line)'")
    }
}

let input = Thread { [broker, exitOnEOF] in
    while let line = readLine() {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { continue }
        do {
            try execute(trimmed, on: broker)
            say("ok")
        } catch {
            say("error: \(error)")
        }
    }
    if exitOnEOF { exit(0) }
}
input.start()
nonisolated(unsafe) var signalSources: [any DispatchSourceSignal] = []
for number in [SIGTERM, SIGINT] {
    signal(number, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
    source.setEventHandler { exit(0) }
    source.resume()
    signalSources.append(source)
}
dispatchMain()
