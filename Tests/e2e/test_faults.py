"""Faults, each bounded in time: kill -9 of holdingsd mid-stream (broker in its own
process), Postgres stopped under load, broker faults injected through the mock cluster
API, and backpressure before the embedded broker's per-partition cap. The invariant
checked every time: every call that got OK is in Postgres exactly once (and in the write
model after a restart); a call without an answer is there at most once."""
import collections
import signal
import subprocess
import threading
import time
import uuid

import grpc
import pytest

import samples
from conftest import holdings_channel, binary, holdingsd_command, start, stop

M = samples.holdings_modules()
pb = M["holdings_pb2"]
stubs = M["holdings_pb2_grpc"]


class Broker:
    """holdings-broker in its own process; fault commands through its stdin."""

    def __init__(self, partitions=8):
        self.process, self.bootstrap = start([binary("holdings-broker"), "--partitions", str(partitions)],
                                             stdin=subprocess.PIPE)

    def command(self, line):
        answers = lambda: [l for l in self.process.output if l.startswith(("ok", "error"))]
        before = len(answers())
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + 10
        while len(answers()) == before:
            assert time.monotonic() < deadline, f"no answer to {line!r}"
            time.sleep(0.01)
        assert answers()[-1].strip() == "ok", answers()[-1]

    def stop(self):
        stop(self.process)


class Writer:
    """Threads issuing OpenPosition calls, one new client per call (1 share at 1), each
    with a request id; records which calls got OK and which did not."""

    def __init__(self, address, threads=8, tag=None):
        self.stub = stubs.HoldingsServiceStub(holdings_channel(address))
        self.tag = tag or uuid.uuid4().hex[:8]
        self.ok = {}  # client -> event id
        self.failed = collections.Counter()  # status code -> count
        self.failed_clients = []
        self.details = []
        self.stopping = threading.Event()
        self.counter = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self):
        while not self.stopping.is_set():
            with self.lock:
                self.counter += 1
                n = self.counter
            client = f"{self.tag}-{n}"
            try:
                response = self.stub.OpenPosition(pb.OpenPositionRequest(
                    client_id=client, ticker="T", quantity="1", price="1", request_id=f"req-{n}"), timeout=15)
                with self.lock:
                    self.ok[client] = response.event_id
            except grpc.RpcError as error:
                with self.lock:
                    self.failed[error.code()] += 1
                    self.failed_clients.append(client)
                    self.details.append(error.details())
                time.sleep(0.01)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def wait_ok(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.ok) < count:
            assert time.monotonic() < deadline, f"only {len(self.ok)} OK calls; failures {dict(self.failed)}"
            time.sleep(0.02)

    def finish(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=30)


def events_by_client(postgres, url, tag):
    rows = postgres.psql(url, f"SELECT client_id, event_id FROM events WHERE client_id LIKE '{tag}-%' "
                              "AND event_type NOT IN ('AGENT_ALERT', 'ALERT_ACKNOWLEDGED')")
    found = collections.defaultdict(list)
    for row in rows.split():
        client, event_id = row.split("|")
        found[client].append(event_id)
    return found


def assert_nothing_acknowledged_lost(postgres, url, writer, timeout=60, process=None, broker=None):
    """Every OK call's event is in Postgres exactly once; unanswered calls at most once."""
    deadline = time.monotonic() + timeout
    while True:
        found = events_by_client(postgres, url, writer.tag)
        missing = [(c, e, found.get(c)) for c, e in writer.ok.items() if found.get(c) != [e]]
        if not missing:
            break
        if time.monotonic() > deadline:
            in_log = []
            if broker is not None:
                dump = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", "holdings.positions", "-e", "-q",
                                       "-f", "%p@%o %s\n"], capture_output=True, timeout=60).stdout
                in_log = [line[:12] for line in dump.split(b"\n") for _, e, _ in missing[:3] if e.encode() in line]
            log = "".join(l for l in (process.output if process else []) if "holdingsd[" in l)[-4000:]
            raise AssertionError(f"{len(missing)} acknowledged calls missing or duplicated, e.g. {missing[:3]}; "
                                 f"in the Kafka log at {in_log}; holdingsd log:\n{log}")
        time.sleep(0.2)
    for client in writer.failed_clients:
        assert len(found.get(client, [])) <= 1
    return found


def test_kill_9_mid_stream_loses_no_acknowledged_event(postgres):
    url = postgres.new_database()
    broker = Broker()
    command = holdingsd_command(url, "--kafka-brokers", broker.bootstrap)
    process, address = start(command)
    restarted = None
    try:
        writer = Writer(address).start()
        writer.wait_ok(300)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        writer.finish()
        assert writer.failed[grpc.StatusCode.UNAVAILABLE] >= 1 or len(writer.ok) > 0

        restarted, address = start(command)
        found = assert_nothing_acknowledged_lost(postgres, url, writer, process=restarted, broker=broker)
        stub = stubs.HoldingsServiceStub(holdings_channel(address))
        # The rebuilt write model holds every acknowledged buy exactly once.
        sample = list(writer.ok.items())[:: max(1, len(writer.ok) // 100)]
        for client, _ in sample:
            positions = stub.ListPositions(pb.ListPositionsRequest(client_id=client), timeout=10).positions
            assert [(p.quantity, p.version) for p in positions] == [("1", 1)]
        for client in writer.failed_clients:
            positions = stub.ListPositions(pb.ListPositionsRequest(client_id=client), timeout=10).positions
            assert len(positions) == len(found.get(client, []))
        # A retry of an acknowledged request after the restart returns its first outcome.
        client, event_id = sample[0]
        n = client.rsplit("-", 1)[1]
        again = stub.OpenPosition(pb.OpenPositionRequest(
            client_id=client, ticker="T", quantity="1", price="1", request_id=f"req-{n}"), timeout=10)
        assert again.event_id == event_id
        assert events_by_client(postgres, url, writer.tag)[client] == [event_id]
    finally:
        for p in (restarted, process):
            if p is not None and p.poll() is None:
                stop(p)
        broker.stop()


def test_postgres_outage_with_a_real_cluster_writes_go_on_and_reads_wait(postgres):
    """With a broker of its own (the broker's ack is the commit point), writes go on while
    Postgres is down; reads of the audit trail answer UNAVAILABLE; the projector resumes."""
    url = postgres.new_database()
    broker = Broker(partitions=4)
    process, address = start(holdingsd_command(url, "--kafka-brokers", broker.bootstrap))
    try:
        writer = Writer(address, threads=4).start()
        writer.wait_ok(100)
        stub = stubs.HoldingsServiceStub(holdings_channel(address))
        postgres.stop()
        try:
            before = len(writer.ok)
            time.sleep(2)
            assert len(writer.ok) > before + 20, "writes stopped while Postgres was down"
            with pytest.raises(grpc.RpcError) as raised:
                stub.ListEvents(pb.ListEventsRequest(client_id=f"{writer.tag}-1"), timeout=10)
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, raised.value.details()
        finally:
            postgres.start()
        time.sleep(1)
        writer.finish()
        assert set(writer.failed) <= {grpc.StatusCode.UNAVAILABLE}, writer.details[:3]
        assert_nothing_acknowledged_lost(postgres, url, writer)
        trail = stub.ListEvents(pb.ListEventsRequest(client_id=f"{writer.tag}-1"), timeout=10).events
        assert len(trail) <= 1
        total = postgres.psql(url, "SELECT count(*), count(DISTINCT (aggregate_id, aggregate_version)) FROM events")
        count, distinct = total.strip().split("|")
        assert count == distinct
    finally:
        stop(process)
        broker.stop()


def test_postgres_outage_with_the_embedded_broker_acknowledges_nothing_until_committed(postgres):
    """The embedded broker's log dies with the process, so Postgres is the commit point: while
    it is down no write is acknowledged (each answers DEADLINE_EXCEEDED: outcome unknown); a
    kill -9 during the outage loses nothing acknowledged; after restart writes flow again."""
    url = postgres.new_database()
    process, address = start(holdingsd_command(url))
    try:
        writer = Writer(address, threads=4).start()
        writer.wait_ok(100)
        postgres.stop()
        try:
            time.sleep(0.5)  # calls that were committed just before the stop may still answer
            before = len(writer.ok)
            time.sleep(2)
            assert len(writer.ok) == before, "a write was acknowledged while Postgres, the commit point, was down"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
            postgres.start()
        writer.finish()
        assert set(writer.failed) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}, writer.details[:3]
        restarted, address = start(holdingsd_command(url))
        try:
            assert_nothing_acknowledged_lost(postgres, url, writer, process=restarted)
            again = Writer(address, threads=2).start()
            again.wait_ok(20)
            again.finish()
            assert_nothing_acknowledged_lost(postgres, url, again, process=restarted)
        finally:
            stop(restarted)
    finally:
        if process.poll() is None:
            stop(process)


def test_broker_faults_fail_with_unavailable_or_succeed(postgres):
    url = postgres.new_database()
    broker = Broker(partitions=4)
    process, address = start(holdingsd_command(url, "--kafka-brokers", broker.bootstrap, "--kafka-message-timeout-ms", "2000"))
    try:
        writer = Writer(address, threads=6).start()
        writer.wait_ok(50)
        # Retriable Produce errors (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS),
        # then non-retriable ones (INVALID_REQUEST, CORRUPT_MESSAGE), twice. This sequence is the one
        # where librdkafka 2.0.2 acknowledges a never-written record as a duplicate (no offset);
        # the service must answer UNAVAILABLE for it, not OK.
        for _ in range(2):
            broker.command("produce-errors 6,7,19,6,7,19,6,7")
            time.sleep(1)
            broker.command("produce-errors 42,2")
            time.sleep(1)
        for partition in range(4):
            broker.command(f"leader holdings.positions {partition} {1 + (partition + 1) % 3}")
        time.sleep(1)
        broker.command("broker-down 2")
        time.sleep(3)
        broker.command("broker-up 2")
        broker.command("clear-errors")
        # Writes recover by themselves once the brokers are healthy again.
        writer.wait_ok(len(writer.ok) + 100, timeout=30)
        writer.finish()
        assert set(writer.failed) <= {grpc.StatusCode.UNAVAILABLE}, (dict(writer.failed), writer.details[:3])
        assert_nothing_acknowledged_lost(postgres, url, writer, process=process, broker=broker)
    finally:
        stop(process)
        broker.stop()


def test_backpressure_refuses_writes_before_the_log_could_drop_them(postgres):
    """With the projector stalled (Postgres down), writes fill the per-partition budget and
    then get UNAVAILABLE; nothing acknowledged is lost when Postgres returns."""
    url = postgres.new_database()
    broker = Broker(partitions=2)
    process, address = start(holdingsd_command(url, "--kafka-brokers", broker.bootstrap, "--max-projection-lag", "40"))
    try:
        writer = Writer(address, threads=8).start()
        writer.wait_ok(50)
        postgres.stop()
        try:
            outage_start = len(writer.ok)
            deadline = time.monotonic() + 20
            while not any("projection is" in d for d in writer.details):
                assert time.monotonic() < deadline, "writes were never refused"
                time.sleep(0.05)
            time.sleep(1)
            acknowledged_in_outage = len(writer.ok) - outage_start
            # 2 partitions × 40 events, plus what the projector had in hand when Postgres stopped.
            assert acknowledged_in_outage <= 2 * 40 + 2000
        finally:
            postgres.start()
        recovered = len(writer.ok)
        writer.wait_ok(recovered + 50)
        writer.finish()
        assert set(writer.failed) <= {grpc.StatusCode.UNAVAILABLE}
        assert_nothing_acknowledged_lost(postgres, url, writer)
    finally:
        stop(process)
        broker.stop()
