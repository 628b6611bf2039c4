"""The first vertical slice through Kafka and Postgres, driven by the reference client
(Python grpcio): OpenPosition, GetPosition, ListPositions, ListEvents; the events read
back with kcat from the broker and with psql from Postgres; request ids; bad input."""
import json
import re
import subprocess
import threading
import uuid
from decimal import Decimal

import grpc
import pytest

import samples
from conftest import holdings_channel, binary, holdingsd_command, start, stop

M = samples.holdings_modules()
pb = M["holdings_pb2"]
events_pb2 = M["events_pb2"]
stubs = M["holdings_pb2_grpc"]
EventType = events_pb2.EventType


def stub_for(address):
    return stubs.HoldingsServiceStub(holdings_channel(address))


def brokers_of(process):
    for line in process.output:
        match = re.search(r"brokers ([0-9.:,]+)", line)
        if match:
            return match.group(1)
    raise AssertionError("no broker address in the output")


def buy(stub, client, ticker, quantity, price, fees="", request_id="", timeout=10):
    return stub.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity=quantity, price=price,
                                                    fees=fees, request_id=request_id), timeout=timeout)


def expect_status(code, call, *needles):
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert raised.value.code() == code, raised.value.details()
    for needle in needles:
        assert needle in raised.value.details()
    return raised.value.details()


@pytest.fixture(scope="module")
def holdings(server):
    address, process = server
    return stub_for(address), process


def test_open_get_list_and_audit_trail(holdings):
    stub, _ = holdings
    client = "client-" + uuid.uuid4().hex[:8]
    first = buy(stub, client, "AAPL", "10", "150.25", fees="1.5")
    assert first.created
    assert first.position.quantity == "10"
    assert first.position.cost_basis == "1504"  # 10 × 150.25 + 1.5, exact
    assert first.position.average_cost == "150.4"
    assert first.position.version == 1
    assert first.lot.lot_id == "L1" and first.lot.fees == "1.5" and first.lot.source_event_id == first.event_id
    second = buy(stub, client, "AAPL", "0.333", "160.1")
    assert not second.created and second.position.position_id == first.position.position_id
    assert second.lot.lot_id == "L2"
    assert second.position.quantity == "10.333"
    assert Decimal(second.position.cost_basis) == Decimal("1504") + Decimal("0.333") * Decimal("160.1")
    assert second.position.version == 2
    other = buy(stub, client, "MSFT", "3", "400")
    assert other.created and other.position.position_id != first.position.position_id

    got = stub.GetPosition(pb.GetPositionRequest(position_id=first.position.position_id)).position
    assert got == second.position or (got.version == 2 and [l.lot_id for l in got.lots] == ["L1", "L2"])
    assert got.quantity == "10.333"

    listed = stub.ListPositions(pb.ListPositionsRequest(client_id=client)).positions
    assert [p.position_id for p in listed] == [first.position.position_id, other.position.position_id]
    page = stub.ListPositions(pb.ListPositionsRequest(client_id=client, page_size=1))
    assert len(page.positions) == 1 and page.next_page_token
    rest = stub.ListPositions(pb.ListPositionsRequest(client_id=client, page_size=1, page_token=page.next_page_token))
    assert [p.position_id for p in rest.positions] == [other.position.position_id] and not rest.next_page_token

    # The audit trail comes from Postgres and already holds the acknowledged writes.
    trail = stub.ListEvents(pb.ListEventsRequest(client_id=client)).events
    assert [(e.event_type, e.aggregate_version) for e in trail] == [
        (EventType.POSITION_OPENED, 1), (EventType.LOT_ADDED, 2), (EventType.POSITION_OPENED, 1)]
    assert [e.event_id for e in trail] == [first.event_id, second.event_id, other.event_id]
    opened = trail[0]
    assert uuid.UUID(opened.event_id) and opened.schema_version == 1 and opened.quality_score == 100
    assert opened.source == "holdingsd/HoldingsService.OpenPosition"
    assert opened.client_id == client and opened.aggregate_id == first.position.position_id
    assert opened.WhichOneof("payload") == "position_opened"
    assert opened.position_opened.lot.quantity == "10"
    by_position = stub.ListEvents(pb.ListEventsRequest(position_id=first.position.position_id)).events
    assert [e.aggregate_version for e in by_position] == [1, 2]
    only_added = stub.ListEvents(pb.ListEventsRequest(client_id=client, event_types=[EventType.LOT_ADDED])).events
    assert [e.event_id for e in only_added] == [second.event_id]
    paged = stub.ListEvents(pb.ListEventsRequest(client_id=client, page_size=2))
    assert len(paged.events) == 2 and paged.next_page_token
    tail = stub.ListEvents(pb.ListEventsRequest(client_id=client, page_size=2, page_token=paged.next_page_token))
    assert [e.event_id for e in tail.events] == [other.event_id] and not tail.next_page_token


def test_events_are_on_the_broker_and_in_postgres(holdings, postgres):
    stub, process = holdings
    client = "kcat-" + uuid.uuid4().hex[:8]
    bought = [buy(stub, client, ticker, "1", "10") for ticker in ("AAA", "BBB", "CCC")]
    ids = {b.event_id for b in bought}
    # kcat, a plain Kafka client, reads them from the embedded broker: key = aggregate id,
    # headers = event type and schema version, payload = the protobuf Event.
    brokers = brokers_of(process)
    listing = subprocess.run(["kcat", "-b", brokers, "-C", "-t", "holdings.positions", "-e", "-q",
                              "-f", "%k\t%h\t%p\t%o\n"], capture_output=True, text=True, timeout=60, check=True).stdout
    positions = {b.position.position_id: b for b in bought}
    found = 0
    for line in listing.splitlines():
        key, headers, partition, offset = line.split("\t")
        if key not in positions:
            continue
        found += 1
        assert headers == "event-type=POSITION_OPENED,schema-version=1"
        payload = subprocess.run(["kcat", "-b", brokers, "-C", "-t", "holdings.positions", "-p", partition, "-o", offset,
                                  "-c", "1", "-e", "-q", "-f", "%s"], capture_output=True, timeout=60, check=True).stdout
        event = events_pb2.Event()
        event.ParseFromString(payload)
        assert event.event_id == positions[key].event_id and event.aggregate_id == key
        assert event.position_opened.ticker == positions[key].position.ticker
    assert found == 3
    # psql shows them in the audit trail and the read models.
    url = [a for a in process.args if a.startswith("postgresql://")][0]
    # (The monitoring agent's alerts about this client sit beside them, on their own topic.)
    rows = postgres.psql(url, f"SELECT event_type, aggregate_id FROM events WHERE client_id = '{client}' "
                              "AND event_type NOT IN ('AGENT_ALERT', 'ALERT_ACKNOWLEDGED') ORDER BY aggregate_id")
    assert sorted(rows.split()) == sorted(f"POSITION_OPENED|{b.position.position_id}" for b in bought)
    quantities = postgres.psql(url, f"SELECT ticker, quantity, cost_basis FROM positions WHERE client_id = '{client}' ORDER BY ticker")
    assert quantities.split() == ["AAA|1|10", "BBB|1|10", "CCC|1|10"]


def test_request_id_returns_the_first_outcome(holdings):
    stub, _ = holdings
    client = "idem-" + uuid.uuid4().hex[:8]
    request_id = str(uuid.uuid4())
    first = buy(stub, client, "IBM", "2", "100", request_id=request_id)
    again = buy(stub, client, "IBM", "2", "100", request_id=request_id)
    assert again.event_id == first.event_id and again.position == first.position and again.created
    buy(stub, client, "IBM", "1", "101")
    later = buy(stub, client, "IBM", "2", "100", request_id=request_id)
    assert later.event_id == first.event_id and later.position.quantity == "2" and later.position.version == 1
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: buy(stub, client, "IBM", "3", "100", request_id=request_id),
                  "request_id", "different request")

    # Concurrent retries of one request: one event.
    concurrent_id = str(uuid.uuid4())
    results = []

    def call():
        results.append(buy(stub, client, "ORCL", "5", "50", request_id=concurrent_id).event_id)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 16
    trail = stub.ListEvents(pb.ListEventsRequest(client_id=client)).events
    assert [e.event_type for e in trail] == [EventType.POSITION_OPENED, EventType.LOT_ADDED, EventType.POSITION_OPENED]


def test_bad_input_is_refused_precisely_and_records_nothing(holdings):
    stub, _ = holdings
    client = "bad-" + uuid.uuid4().hex[:8]
    buy(stub, client, "GOOD", "1", "1")
    cases = [
        (dict(client_id="", ticker="X", quantity="1", price="1"), "client_id"),
        (dict(client_id="a b", ticker="X", quantity="1", price="1"), "client_id"),
        (dict(client_id="c" * 129, ticker="X", quantity="1", price="1"), "client_id"),
        (dict(client_id=client, ticker="", quantity="1", price="1"), "ticker"),
        (dict(client_id=client, ticker="aapl", quantity="1", price="1"), "ticker"),
        (dict(client_id=client, ticker="TOOLONGTICKER", quantity="1", price="1"), "ticker"),
        (dict(client_id=client, ticker="X", quantity="", price="1"), "quantity"),
        (dict(client_id=client, ticker="X", quantity="1e3", price="1"), "quantity"),
        (dict(client_id=client, ticker="X", quantity="0", price="1"), "quantity"),
        (dict(client_id=client, ticker="X", quantity="-1", price="1"), "quantity"),
        (dict(client_id=client, ticker="X", quantity="1.", price="1"), "quantity"),
        (dict(client_id=client, ticker="X", quantity="0.0000000000000000001", price="1"), "quantity"),
        (dict(client_id=client, ticker="X", quantity="1", price="abc"), "price"),
        (dict(client_id=client, ticker="X", quantity="1", price="0"), "price"),
        (dict(client_id=client, ticker="X", quantity="1", price="1", fees="-0.01"), "fees"),
        (dict(client_id=client, ticker="X", quantity="9" * 30, price="9" * 30), "quantity"),
    ]
    for fields, field in cases:
        expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                      lambda: stub.OpenPosition(pb.OpenPositionRequest(**fields), timeout=10), field)
    future = pb.OpenPositionRequest(client_id=client, ticker="X", quantity="1", price="1")
    future.trade_time.seconds = 4102444800  # 2100-01-01
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.OpenPosition(future, timeout=10), "trade_time")
    invalid_time = pb.OpenPositionRequest(client_id=client, ticker="X", quantity="1", price="1")
    invalid_time.trade_time.nanos = -5
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.OpenPosition(invalid_time, timeout=10), "trade_time")

    expect_status(grpc.StatusCode.NOT_FOUND, lambda: stub.GetPosition(pb.GetPositionRequest(position_id="pos-nope")), "pos-nope")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.GetPosition(pb.GetPositionRequest()), "position_id")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.ListPositions(pb.ListPositionsRequest()), "client_id")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: stub.ListPositions(pb.ListPositionsRequest(client_id=client, page_size=1001)), "page_size")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: stub.ListPositions(pb.ListPositionsRequest(client_id=client, page_token="garbage!")), "page_token")
    other_token = stub.ListEvents(pb.ListEventsRequest(client_id=client, page_size=1)).next_page_token
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: stub.ListEvents(pb.ListEventsRequest(client_id="someone-else", page_token=other_token or "x")),
                  "page_token")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.ListEvents(pb.ListEventsRequest()), "client_id")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: stub.ListEvents(pb.ListEventsRequest(client_id=client, event_types=[99])), "event_types")

    # Nothing was recorded for the refused calls; the service still serves.
    trail = stub.ListEvents(pb.ListEventsRequest(client_id=client)).events
    assert len(trail) == 1
    assert buy(stub, client, "GOOD", "1", "1").position.quantity == "2"


def test_api_and_projector_as_separate_processes(postgres):
    """--role projector alone and --role api alone, sharing a broker and a database."""
    url = postgres.new_database()
    broker, bootstrap = start([binary("holdings-broker"), "--partitions", "4"], stdin=subprocess.PIPE)
    projector = api = None
    try:
        projector_cmd = holdingsd_command(url, "--role", "projector", "--kafka-brokers", bootstrap)
        projector = subprocess.Popen(projector_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        api, address = start(holdingsd_command(url, "--role", "api", "--kafka-brokers", bootstrap))
        stub = stub_for(address)
        bought = buy(stub, "split-roles", "SPLIT", "7", "3")
        trail = stub.ListEvents(pb.ListEventsRequest(client_id="split-roles"), timeout=30).events
        assert [e.event_id for e in trail] == [bought.event_id]
        assert postgres.psql(url, "SELECT quantity FROM positions WHERE client_id = 'split-roles'").strip() == "7"
    finally:
        for process in (api, projector, broker):
            if process is not None:
                stop(process)
