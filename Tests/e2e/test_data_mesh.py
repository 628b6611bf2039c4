"""DataMeshService end to end (grpcio): the quality score of every event written by the
write methods, recomputed here from the contract's rule table; quarantine of bad records
produced straight to the topic by another producer (kcat) while good ones flow; lineage of
a rebalancing run and of a split; freshness moving with a stalled projector and back to
zero; as-of portfolio reads and position diffs against an independent replay; the data
product descriptors against the database; bad input for each method."""
import json
import re
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import grpc
import pytest
from conftest import holdings_channel, holdingsd_command, start, stop, token

import samples
from test_event_backbone import expect_status
import test_trust as trust
from test_trust import wait_for

M = samples.holdings_modules()
pb = M["holdings_pb2"]
cb = M["cost_basis_pb2"]
rb = M["rebalancing_pb2"]
dm = M["data_mesh_pb2"]
ev = M["events_pb2"]
common = M["common_pb2"]
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOW = datetime.now(timezone.utc)

# The contract's rule table (data_mesh.proto, QualityRuleName): weight and the event types
# each rule applies to (None: every type).
POSITION = {ev.POSITION_OPENED, ev.LOT_ADDED, ev.LOTS_SOLD, ev.POSITION_CLOSED, ev.CORPORATE_ACTION_APPLIED}
AMOUNTS = POSITION | {ev.POSITION_VALUED, ev.TRADE_EXECUTED}
RULES = {
    "envelope_complete": (15, None), "payload_complete": (10, None), "quantities_positive": (10, AMOUNTS | {ev.REBALANCING_COMPLETED}),
    "prices_positive": (10, AMOUNTS | {ev.REBALANCING_COMPLETED}), "identifiers_valid": (5, None), "time_not_future": (5, None),
    "amounts_reconcile": (15, AMOUNTS), "version_sequence": (10, None), "unique_ids": (10, None),
    "ingested_promptly": (5, None),
    "booked_promptly": (5, {ev.POSITION_OPENED, ev.LOT_ADDED, ev.LOTS_SOLD, ev.POSITION_CLOSED, ev.POSITION_VALUED, ev.TRADE_EXECUTED}),
}


def applicable(event_type):
    return [name for name, (_, types) in RULES.items() if types is None or event_type in types]


def expected_score(event_type, failed):
    """Round-half-up(100 × passed weight ÷ applicable weight), exactly."""
    names = applicable(event_type)
    total = sum(RULES[n][0] for n in names)
    passed = sum(RULES[n][0] for n in names if n not in failed)
    return (Decimal(100 * passed) / total).quantize(Decimal(1), rounding="ROUND_HALF_UP")


def ts(when):
    from google.protobuf import timestamp_pb2
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(when)
    return value


class Service:
    def __init__(self, address, bearer=None):
        channel = holdings_channel(address, bearer)
        self.holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
        self.costs = M["cost_basis_pb2_grpc"].CostBasisServiceStub(channel)
        self.rebalancing = M["rebalancing_pb2_grpc"].RebalancingServiceStub(channel)
        self.mesh = M["data_mesh_pb2_grpc"].DataMeshServiceStub(channel)

    def buy(self, client, ticker, quantity, price, when=None):
        request = pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity=str(quantity), price=str(price))
        if when:
            request.trade_time.CopyFrom(ts(when))
        return self.holdings.OpenPosition(request, timeout=10)

    def events(self, client):
        return list(self.holdings.ListEvents(pb.ListEventsRequest(client_id=client, page_size=1000), timeout=10).events)


@pytest.fixture(scope="module")
def mesh(postgres):
    """holdingsd of its own (its database is read directly) with the embedded broker."""
    url = postgres.new_database()
    process, address = start(holdingsd_command(url, "--no-agent", "--metrics-port", "0"))
    bootstrap = re.search(r"brokers (\S+)\)", "".join(process.output)).group(1)
    admin = Service(address, token("admin"))
    wait_for(lambda: "metrics on http://" in "".join(process.output))
    metrics = re.search(r"metrics on (http://\S+)", "".join(process.output)).group(1)
    yield {"url": url, "process": process, "address": address, "bootstrap": bootstrap, "admin": admin, "postgres": postgres,
           "metrics": metrics}
    stop(process)


def psql(mesh, sql):
    return mesh["postgres"].psql(mesh["url"], sql).strip()


def produce(mesh, body, key="", partition=0):
    """One record on holdings.positions as another producer would write it (kcat)."""
    trust.produce(mesh["bootstrap"], body, partition=partition, key=key)


def a_life(s, client, backdated_days=3):
    """Every write method of the holdings book on one client: buys (one backdated), a sale by
    each method, a valuation, a price batch, a split and a dividend, a close, a rebalancing
    run and a schedule. Returns the tickers."""
    a, b, c = (f"Q{uuid.uuid4().hex[:5].upper()}" for _ in range(3))
    first = s.buy(client, a, 10, "100.5")
    s.buy(client, a, 5, "101.25", when=NOW - timedelta(days=backdated_days))  # booked late: loses booked_promptly
    s.buy(client, b, 7, 30)
    s.buy(client, c, 3, 12)
    position = first.position.position_id
    for method in (common.FIFO, common.LIFO, common.HIFO, common.AVERAGE):
        s.costs.SellLots(cb.SellLotsRequest(client_id=client, ticker=a, quantity="1", price="110", fees="0.3", method=method,
                                            request_id=uuid.uuid4().hex), timeout=10)
    s.holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=position, price="111", priced_at=ts(NOW)), timeout=10)
    s.holdings.PublishPrices(pb.PublishPricesRequest(prices=[common.PriceQuote(ticker=b, price="31"),
                                                             common.PriceQuote(ticker=c, price="13")]), timeout=10)
    s.holdings.ApplyCorporateAction(pb.ApplyCorporateActionRequest(ticker=b, type=ev.SPLIT, split_to="3", split_from="2",
                                                                   cash_in_lieu_price="20", request_id=uuid.uuid4().hex), timeout=30)
    s.holdings.ApplyCorporateAction(pb.ApplyCorporateActionRequest(ticker=a, type=ev.CASH_DIVIDEND, dividend_per_share="0.5",
                                                                   request_id=uuid.uuid4().hex), timeout=30)
    closing = [p for p in s.holdings.ListPositions(pb.ListPositionsRequest(client_id=client), timeout=10).positions if p.ticker == c][0]
    s.holdings.ClosePosition(pb.ClosePositionRequest(position_id=closing.position_id, price="14", method=common.FIFO), timeout=10)
    targets = {a: "0.5", b: "0.5"}
    plan = s.rebalancing.PlanRebalancing(rb.PlanRebalancingRequest(client_id=client, target_weights=targets, strategy=ev.THRESHOLD,
                                                                   band=ev.DriftBand(absolute="0.01")), timeout=10)
    done = s.rebalancing.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id,
                                                                         request_id=uuid.uuid4().hex), timeout=10)
    s.rebalancing.ScheduleRebalancing(rb.ScheduleRebalancingRequest(client_id=client, cadence=ev.MONTHLY, strategy=ev.THRESHOLD,
                                                                    target_weights=targets, band=ev.DriftBand(absolute="0.05"),
                                                                    enabled=True), timeout=10)
    return a, b, c, done


def test_every_written_event_carries_its_score_and_get_data_quality_explains_every_lost_point(mesh):
    s = mesh["admin"]
    client = "dq-" + uuid.uuid4().hex[:8]
    a, b, c, done = a_life(s, client)
    assert done.rebalancing_id and len(done.trades) >= 1
    events = s.events(client)
    kinds = {e.event_type for e in events}
    assert {ev.POSITION_OPENED, ev.LOT_ADDED, ev.LOTS_SOLD, ev.POSITION_CLOSED, ev.POSITION_VALUED, ev.CORPORATE_ACTION_APPLIED,
            ev.REBALANCING_TRIGGERED, ev.TRADE_EXECUTED, ev.REBALANCING_COMPLETED, ev.REBALANCING_SCHEDULED} <= kinds
    stored = dict(line.split("|", 1) for line in psql(mesh, f"""
        SELECT event_id, quality_score || '|' || array_to_string(failed_rules, ',') FROM events
        WHERE client_id = '{client}'""").splitlines())
    late = []
    for event in events:
        # The envelope's score (computed at the write) is the projector's, and the rule table's.
        failed = list(event.failed_quality_rules)
        assert stored[event.event_id] == f"{event.quality_score}|{','.join(failed)}", event
        assert Decimal(event.quality_score) == expected_score(event.event_type, failed), (event.event_type, failed)
        if failed:
            late.append(event)
    # Exactly the backdated buy lost points, for exactly the booking rule.
    assert [(e.event_type, list(e.failed_quality_rules), e.quality_score) for e in late] == [(ev.LOT_ADDED, ["booked_promptly"], 95)]

    quality = s.mesh.GetDataQuality(dm.GetDataQualityRequest(client_id=client), timeout=10)
    assert quality.events_examined == len(events)
    by_name = {r.name: r for r in quality.rules}
    assert list(by_name) == list(RULES)  # every rule, in the contract's order
    for name, (weight, types) in RULES.items():
        rule = by_name[name]
        assert (rule.weight, rule.checked) == (weight, sum(1 for e in events if types is None or e.event_type in types)), name
        assert rule.failed == sum(1 for e in late if name in e.failed_quality_rules) and rule.passed == (rule.failed == 0)
    booked = by_name["booked_promptly"]
    assert late[0].event_id in booked.detail and "h before occurred_at" in booked.detail
    # Every lost point is explained: 100 − Σ points lost is the average of the exact per-event scores.
    exact = sum(Decimal(100) - Decimal(100 * sum(RULES[n][0] for n in e.failed_quality_rules))
                / sum(RULES[n][0] for n in applicable(e.event_type)) for e in events) / len(events)
    assert abs(Decimal(repr(quality.score_exact)) - exact) < Decimal("0.01")
    assert abs(Decimal(100) - sum(Decimal(repr(r.points_lost)) for r in quality.rules) - exact) < Decimal("0.02")
    assert quality.score == int(exact.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    products = {p.name: p for p in quality.products}
    assert products["positions"].imperfect_events == 1 and products["valuations"].score == 100
    assert sum(p.events for p in quality.products if p.name != "lots") == len(events)
    assert products["lots"].events == sum(1 for e in events if e.event_type in POSITION | {ev.TRADE_EXECUTED})
    assert [d.name for d in quality.days] == [NOW.strftime("%Y-%m-%d")] and quality.days[0].events == len(events)

    # One data product, one position, a window.
    trades = s.mesh.GetDataQuality(dm.GetDataQualityRequest(client_id=client, data_product="trades"), timeout=10)
    assert trades.events_examined == sum(1 for e in events if e.event_type == ev.TRADE_EXECUTED) and trades.score == 100
    position = late[0].aggregate_id
    mine = s.mesh.GetDataQuality(dm.GetDataQualityRequest(position_id=position), timeout=10)
    assert mine.events_examined == sum(1 for e in events if e.aggregate_id == position)
    future = s.mesh.GetDataQuality(dm.GetDataQualityRequest(client_id=client, since=ts(NOW + timedelta(days=1))), timeout=10)
    assert future.events_examined == 0 and future.score == 100 and future.score_exact == 100


def test_get_data_quality_refuses_bad_input(mesh):
    s = mesh["admin"]
    q = s.mesh.GetDataQuality
    expect_status(INVALID, lambda: q(dm.GetDataQualityRequest(), timeout=10), "client_id, position_id", "required")
    expect_status(INVALID, lambda: q(dm.GetDataQualityRequest(client_id="c", position_id="p"), timeout=10), "client_id, position_id")
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: q(dm.GetDataQualityRequest(position_id="nope"), timeout=10), "nope")
    expect_status(INVALID, lambda: q(dm.GetDataQualityRequest(client_id="c", data_product="lotz"), timeout=10), "data_product", "positions")
    expect_status(INVALID, lambda: q(dm.GetDataQualityRequest(client_id="c", since=ts(NOW), until=ts(NOW)), timeout=10), "until")
    bad = ts(NOW)
    bad.nanos = -1
    expect_status(INVALID, lambda: q(dm.GetDataQualityRequest(client_id="c", since=bad), timeout=10), "since")


def foreign_event(event_type, aggregate, version, client, occurred=None, **payload):
    event = ev.Event(event_id=str(uuid.uuid4()), event_type=event_type, aggregate_id=aggregate, aggregate_version=version,
                     client_id=client, source="another-producer", schema_version=1)
    event.occurred_at.CopyFrom(ts(occurred or datetime.now(timezone.utc)))
    for field, value in payload.items():
        getattr(event, field).CopyFrom(value)
    return event


def opened(aggregate, client, ticker, quantity="10", unit_cost="5", basis="50", occurred=None):
    lot = common.Lot(lot_id="L1", quantity=quantity, original_quantity=quantity, unit_cost=unit_cost, cost_basis=basis, fees="0")
    lot.acquired_at.CopyFrom(ts(occurred or datetime.now(timezone.utc)))
    event = foreign_event(ev.POSITION_OPENED, aggregate, 1, client, occurred,
                          position_opened=ev.PositionOpened(position_id=aggregate, client_id=client, ticker=ticker, lot=lot))
    event.position_opened.lot.source_event_id = event.event_id
    return event


def test_bad_records_from_another_producer_are_quarantined_with_their_rules_and_good_ones_flow(mesh):
    s = mesh["admin"]
    client = "qr-" + uuid.uuid4().hex[:8]
    own = s.buy(client, "QRA", 10, 20).position.position_id
    before = s.mesh.ListQuarantinedRecords(dm.ListQuarantinedRecordsRequest(quality_only=True), timeout=10).open_count
    negative = opened("pos-neg-" + uuid.uuid4().hex[:6], client, "QRB", quantity="-3", basis="-15")
    mismatch = opened("pos-mis-" + uuid.uuid4().hex[:6], client, "QRC", unit_cost="5", basis="70")
    future = opened("pos-fut-" + uuid.uuid4().hex[:6], client, "QRD", occurred=datetime.now(timezone.utc) + timedelta(days=1))
    # A sale of our own position from elsewhere whose proceeds do not reconcile: quarantined,
    # and our position's next write is not held back by it.
    part = common.RealizedLot(lot_id="L1", quantity="2", cost_basis="4", proceeds="999", realized_gain="995")
    sold = ev.LotsSold(position_id=own, client_id=client, ticker="QRA", price="21", quantity="2", fees="0",
                       realized=[part], total_realized_gain="995", method=common.FIFO)
    sold.sold_at.CopyFrom(ts(datetime.now(timezone.utc)))
    bad_sale = foreign_event(ev.LOTS_SOLD, own, 2, client, lots_sold=sold)
    # An event id that is taken by another event, with another body.
    taken = s.events(client)[0]
    reused = opened("pos-dup-" + uuid.uuid4().hex[:6], client, "QRE")
    reused.event_id = taken.event_id
    good = opened("pos-good-" + uuid.uuid4().hex[:6], client, "QRF")
    unsourced = opened("pos-uns-" + uuid.uuid4().hex[:6], client, "QRG")
    unsourced.position_opened.lot.source_event_id = ""
    for event in (negative, mismatch, future, bad_sale, reused, unsourced, good):
        produce(mesh, event.SerializeToString(), key=event.aggregate_id)
    wait_for(lambda: any(e.aggregate_id == good.aggregate_id for e in s.events(client)))
    records = s.mesh.ListQuarantinedRecords(dm.ListQuarantinedRecordsRequest(quality_only=True), timeout=10)
    assert records.open_count >= before + 6
    found = {r.aggregate_id: r for r in records.records if r.client_id == client}
    assert set(found[negative.aggregate_id].failed_rules) >= {"quantities_positive"}
    assert list(found[mismatch.aggregate_id].failed_rules) == ["amounts_reconcile"]
    assert "unit_cost 5 × quantity 10 ≠ cost_basis 70" in found[mismatch.aggregate_id].reason
    assert list(found[future.aggregate_id].failed_rules) == ["time_not_future"]
    assert list(found[own].failed_rules) == ["amounts_reconcile"] and "Σ proceeds 999" in found[own].reason
    assert list(found[reused.aggregate_id].failed_rules) == ["unique_ids"]
    assert list(found[unsourced.aggregate_id].failed_rules) == ["payload_complete"]
    # None of them reached the audit trail or a read model; the good one did, with its score.
    trail = {e.event_id: e for e in s.events(client)}
    assert not {negative.event_id, mismatch.event_id, future.event_id, bad_sale.event_id} & set(trail)
    assert trail[taken.event_id].aggregate_id == taken.aggregate_id
    assert psql(mesh, f"SELECT count(*) FROM positions WHERE client_id = '{client}'") == "2"
    assert psql(mesh, f"SELECT quality_score FROM events WHERE event_id = '{good.event_id}'") == "100"
    # Our own next write of the position flows: a quality quarantine holds nothing back.
    s.holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=own, price="22", priced_at=ts(NOW)), timeout=10)
    assert s.holdings.GetPosition(pb.GetPositionRequest(position_id=own), timeout=10).position.version == 2
    # The dead-letter topic carries them with the failed rules in a header.
    def headers():
        return subprocess.run(["kcat", "-C", "-b", mesh["bootstrap"], "-t", "holdings.dead-letters", "-e", "-q", "-f", "%h\n"],
                              capture_output=True, timeout=30).stdout.decode(errors="replace")
    wait_for(lambda: "failed-quality-rules=amounts_reconcile" in headers() and "failed-quality-rules=unique_ids" in headers(),
             lambda: headers()[-2000:])
    assert any("QUARANTINED" in line or "DEAD LETTER" in line for line in mesh["process"].output)
    quality = s.mesh.GetDataQuality(dm.GetDataQualityRequest(client_id=client), timeout=10)
    assert quality.quarantined >= 5


def test_lineage_of_a_rebalancing_run_and_of_a_split(mesh):
    s = mesh["admin"]
    client = "ln-" + uuid.uuid4().hex[:8]
    a, b = "LA" + uuid.uuid4().hex[:4].upper(), "LB" + uuid.uuid4().hex[:4].upper()
    s.buy(client, a, 30, 100)
    s.buy(client, b, 5, 100)
    plan = s.rebalancing.PlanRebalancing(rb.PlanRebalancingRequest(client_id=client, target_weights={a: "0.5", b: "0.5"},
                                                                   strategy=ev.THRESHOLD, band=ev.DriftBand(absolute="0.01")), timeout=10)
    done = s.rebalancing.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id,
                                                                         request_id=uuid.uuid4().hex), timeout=10)
    events = s.events(client)
    trigger = [e for e in events if e.event_type == ev.REBALANCING_TRIGGERED][0]
    trades = [e for e in events if e.event_type == ev.TRADE_EXECUTED]
    completion = [e for e in events if e.event_type == ev.REBALANCING_COMPLETED][0]
    assert len(trades) == len(done.trades) == 2
    graph = s.mesh.GetLineage(dm.GetLineageRequest(event_id=trigger.event_id, depth=1), timeout=10)
    ids = {n.event_id: n for n in graph.nodes}
    assert {trigger.event_id, completion.event_id} | {t.event_id for t in trades} <= set(ids)
    assert ids[trigger.event_id].distance == 0 and all(ids[t.event_id].distance == 1 for t in trades)
    edges = {(e.from_event_id, e.to_event_id, e.relation) for e in graph.edges}
    assert (trigger.event_id, completion.event_id, "aggregate") in edges
    for trade in trades:  # each trade was caused by the trigger
        assert (trigger.event_id, trade.event_id, "causation") in edges
    outputs = {(o.event_id, o.dataset) for o in graph.outputs}
    assert (trigger.event_id, "rebalancing_runs") in outputs and (completion.event_id, "rebalancing_runs") in outputs
    for trade in trades:
        assert (trade.event_id, "positions") in outputs and (trade.event_id, "lots") in outputs
    sell = [t for t in trades if t.trade_executed.side == common.SELL][0]
    assert (sell.event_id, "realized_gains") in outputs
    # Deeper: the trades' positions' earlier versions (the buys) come in at distance 2.
    deeper = s.mesh.GetLineage(dm.GetLineageRequest(event_id=trigger.event_id, depth=2), timeout=10)
    buys = [e for e in events if e.event_type == ev.POSITION_OPENED]
    assert {n.event_id: n.distance for n in deeper.nodes if n.event_id in {x.event_id for x in buys}} == {x.event_id: 2 for x in buys}

    # A split reaches every holder: one request, one correlation.
    ticker = "LS" + uuid.uuid4().hex[:4].upper()
    holders = ["ls-" + uuid.uuid4().hex[:6] for _ in range(3)]
    for holder in holders:
        s.buy(holder, ticker, 9, 10)
    s.holdings.ApplyCorporateAction(pb.ApplyCorporateActionRequest(ticker=ticker, type=ev.SPLIT, split_to="2", split_from="1",
                                                                   request_id=uuid.uuid4().hex), timeout=30)
    applied = [[e for e in s.events(h) if e.event_type == ev.CORPORATE_ACTION_APPLIED][0] for h in holders]
    graph = s.mesh.GetLineage(dm.GetLineageRequest(event_id=applied[1].event_id, depth=2), timeout=10)
    ids = {n.event_id for n in graph.nodes}
    assert {e.event_id for e in applied} <= ids
    assert len({e.correlation_id for e in applied}) == 1
    edges = {(e.from_event_id, e.to_event_id, e.relation) for e in graph.edges}
    first = min(applied, key=lambda e: (e.occurred_at.ToDatetime(), e.aggregate_id))
    assert all((first.event_id, e.event_id, "correlation") in edges for e in applied if e is not first)
    opens = [[e for e in s.events(h) if e.event_type == ev.POSITION_OPENED][0] for h in holders]
    assert all((o.event_id, a.event_id, "aggregate") in edges for o, a in zip(opens, applied))
    assert {o.dataset for o in graph.outputs if o.event_id == applied[1].event_id} == {"positions", "lots"}
    # A reader of one holder sees that holder's part of the graph only.
    reader = Service(mesh["address"], token(f"clients:read:{holders[1]}", subject="reader"))
    theirs = reader.mesh.GetLineage(dm.GetLineageRequest(event_id=applied[1].event_id, depth=1), timeout=10)
    assert {n.client_id for n in theirs.nodes} == {holders[1]}
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: reader.mesh.GetLineage(dm.GetLineageRequest(event_id=applied[0].event_id),
                                                                             timeout=10), applied[0].event_id)
    # A position's lineage: every version, chained.
    position = applied[2].aggregate_id
    chain = s.mesh.GetLineage(dm.GetLineageRequest(position_id=position, depth=1), timeout=10)
    zero = [n for n in chain.nodes if n.distance == 0]
    assert [n.aggregate_version for n in zero] == [1, 2] and all(n.aggregate_id == position for n in zero)
    assert all(n.quality_score == 100 for n in chain.nodes)
    capped = s.mesh.GetLineage(dm.GetLineageRequest(event_id=applied[1].event_id, depth=3, max_nodes=2), timeout=10)
    assert len(capped.nodes) == 2 and capped.truncated


def test_get_lineage_refuses_bad_input(mesh):
    g = mesh["admin"].mesh.GetLineage
    expect_status(INVALID, lambda: g(dm.GetLineageRequest(), timeout=10), "event_id, position_id", "required")
    expect_status(INVALID, lambda: g(dm.GetLineageRequest(event_id=str(uuid.uuid4()), position_id="p"), timeout=10),
                  "event_id, position_id")
    for depth in (-1, 11, 1 << 30):
        expect_status(INVALID, lambda: g(dm.GetLineageRequest(event_id=str(uuid.uuid4()), depth=depth), timeout=10), "depth")
    expect_status(INVALID, lambda: g(dm.GetLineageRequest(event_id="not-a-uuid"), timeout=10), "event_id", "UUID")
    expect_status(INVALID, lambda: g(dm.GetLineageRequest(event_id=str(uuid.uuid4()), max_nodes=5001), timeout=10), "max_nodes")
    unknown = str(uuid.uuid4())
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: g(dm.GetLineageRequest(event_id=unknown), timeout=10), unknown)
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: g(dm.GetLineageRequest(position_id="no-such"), timeout=10), "no-such")


def views(s):
    return {v.name: v for v in s.mesh.ListMaterializedViews(dm.ListMaterializedViewsRequest(), timeout=10).views}


def test_materialized_views_report_rows_and_freshness_that_moves_with_a_stalled_projector(mesh):
    s = mesh["admin"]
    client = "mv-" + uuid.uuid4().hex[:8]
    s.buy(client, "MVA", 1, 1)
    wait_for(lambda: all(v.lag_events == 0 for v in views(s).values()))
    listed = views(s)
    for name in ("positions", "lots", "events", "valuation_history", "dead_letters", "agent_alerts", "policies"):
        assert listed[name].row_count == int(psql(mesh, f"SELECT count(*) FROM {name}")), name
        assert listed[name].owner and listed[name].description
    assert listed["positions"].source_topics == ["holdings.positions"] and listed["agent_alerts"].source_topics == ["holdings.agent-alerts"]
    assert listed["positions"].last_applied_at.ToDatetime(tzinfo=timezone.utc) > NOW - timedelta(minutes=10)
    assert all(v.lag_seconds == 0 for v in listed.values())
    # Stall the projector (it cannot commit its offsets) while another producer writes.
    locker = subprocess.Popen(["psql", mesh["url"], "-qtA", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        locker.stdin.write("BEGIN; LOCK TABLE consumer_offsets IN EXCLUSIVE MODE;\n")
        locker.stdin.flush()
        wait_for(lambda: psql(mesh, """SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                                        WHERE c.relname = 'consumer_offsets' AND l.mode = 'ExclusiveLock' AND l.granted""") == "1")
        for i in range(3):
            good = opened("pos-mv-" + uuid.uuid4().hex[:6], client, f"MV{i}")
            produce(mesh, good.SerializeToString(), key=good.aggregate_id)
        time.sleep(2)
        stalled = views(s)
        assert stalled["positions"].lag_events >= 3 and stalled["events"].lag_events >= 3
        assert stalled["positions"].lag_seconds >= 1.5
        assert stalled["agent_alerts"].lag_events == 0  # its topic is not behind
        partitions = s.mesh.ListMaterializedViews(dm.ListMaterializedViewsRequest(), timeout=10).partitions
        assert sum(p.high_watermark - p.projected_offset for p in partitions if p.topic == "holdings.positions") >= 3
    finally:
        locker.stdin.write("COMMIT;\n")
        locker.stdin.close()
        locker.wait(timeout=30)
    wait_for(lambda: all(v.lag_events == 0 and v.lag_seconds == 0 for v in views(s).values()))
    assert views(s)["positions"].row_count == int(psql(mesh, "SELECT count(*) FROM positions"))


def test_admin_methods_need_admin_and_data_products_describe_every_table(mesh):
    s = mesh["admin"]
    reader = Service(mesh["address"], token("clients:read:someone", subject="reader"))
    for call in (lambda: reader.mesh.ListMaterializedViews(dm.ListMaterializedViewsRequest(), timeout=10),
                 lambda: reader.mesh.ListQuarantinedRecords(dm.ListQuarantinedRecordsRequest(), timeout=10)):
        expect_status(grpc.StatusCode.PERMISSION_DENIED, call, "admin")
    products = reader.mesh.ListDataProducts(dm.ListDataProductsRequest(), timeout=10)
    tables = set(psql(mesh, """SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'
                               AND table_name NOT IN ('schema_migrations', 'consumer_offsets', 'view_freshness',
                                                      'request_index', 'agent_offsets')""").split())
    read_models = {p.name: p for p in products.products if p.kind == "read_model"}
    assert tables == set(read_models), tables ^ set(read_models)
    assert set(views(s)) == set(read_models)
    topics = {p.name: p for p in products.products if p.kind == "topic"}
    assert set(topics) == {"holdings.positions", "holdings.agent-alerts", "holdings.dead-letters"}
    for product in products.products:
        assert product.owner and product.description and product.retention and product.schema_version >= 1
        assert product.classification != dm.DATA_CLASSIFICATION_UNSPECIFIED
    for name in ("positions", "lots", "events", "holdings.positions"):
        assert ({**read_models, **topics})[name].classification == dm.DATA_CONFIDENTIAL
    assert ev.POSITION_VALUED in topics["holdings.positions"].event_types
    assert any("incompatible" in rule for rule in products.schema_evolution_rules)
    expect_status(INVALID, lambda: s.mesh.ListQuarantinedRecords(dm.ListQuarantinedRecordsRequest(limit=1001), timeout=10), "limit")


def replay(events, until_version=None):
    """An independent fold of a position's events: quantity, basis, realized gain, last price, lots."""
    state = {"quantity": Decimal(0), "realized": Decimal(0), "last_price": None, "lots": {}}
    for e in events:
        if until_version and e.aggregate_version > until_version:
            break
        kind = e.WhichOneof("payload")
        if kind in ("position_opened", "lot_added"):
            body = getattr(e, kind)
            for lot in [body.lot, *body.wash_sale_lots]:
                state["lots"][lot.lot_id] = (Decimal(lot.quantity), Decimal(lot.cost_basis))
        elif kind in ("lots_sold", "position_closed"):
            body = getattr(e, kind)
            for part in body.realized:
                q, basis = state["lots"][part.lot_id]
                left = q - Decimal(part.quantity)
                if left == 0:
                    del state["lots"][part.lot_id]
                else:
                    state["lots"][part.lot_id] = (left, basis - Decimal(part.cost_basis))
            state["realized"] += Decimal(body.total_realized_gain)
        elif kind == "position_valued":
            state["last_price"] = Decimal(e.position_valued.price)
    state["quantity"] = sum((q for q, _ in state["lots"].values()), Decimal(0))
    state["basis"] = sum((b for _, b in state["lots"].values()), Decimal(0))
    return state


def test_as_of_portfolio_and_position_diff_against_an_independent_replay(mesh):
    s = mesh["admin"]
    client = "asof-" + uuid.uuid4().hex[:8]
    first = s.buy(client, "AOA", 10, 100).position.position_id
    s.buy(client, "AOB", 4, 50)
    time.sleep(0.05)
    middle = datetime.now(timezone.utc)
    time.sleep(0.05)
    s.buy(client, "AOA", 5, 110)
    s.costs.SellLots(cb.SellLotsRequest(client_id=client, ticker="AOA", quantity="12", price="120", method=common.FIFO,
                                        request_id=uuid.uuid4().hex), timeout=10)
    s.holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=first, price="125", priced_at=ts(NOW)), timeout=10)
    s.buy(client, "AOC", 1, 7)
    events = s.events(client)
    then = s.mesh.GetPortfolioAsOf(dm.GetPortfolioAsOfRequest(client_id=client, as_of_time=ts(middle)), timeout=10)
    assert [p.ticker for p in then.positions] == ["AOA", "AOB"] and then.position_count == 2
    assert Decimal(then.market_value) == 1000 + 200 and Decimal(then.cost_basis) == 1200 and Decimal(then.realized_gain) == 0
    assert then.events_applied == 2 and all(len(p.lots) == 0 and p.lot_count == 1 for p in then.positions)
    now = s.mesh.GetPortfolioAsOf(dm.GetPortfolioAsOfRequest(client_id=client, as_of_time=ts(datetime.now(timezone.utc))), timeout=10)
    current = s.holdings.GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client), timeout=10)
    assert Decimal(now.market_value) == Decimal(current.market_value) and now.position_count == 3
    mine = [e for e in events if e.aggregate_id == first]
    expected = replay(mine)
    assert Decimal(now.realized_gain) == expected["realized"]

    diff = s.mesh.DiffPosition(dm.DiffPositionRequest(position_id=first, from_version=1), timeout=10)
    assert (diff.from_version, diff.to_version) == (1, len(mine)) and [e.aggregate_version for e in diff.events] == [2, 3, 4]
    before, after = replay(mine, 1), replay(mine)
    changes = {c.field: (c.before, c.after) for c in diff.changes}
    assert Decimal(changes["quantity"][0]) == before["quantity"] and Decimal(changes["quantity"][1]) == after["quantity"]
    assert Decimal(changes["realized_gain"][1]) == after["realized"] and changes["last_price"] == ("", "125")
    assert changes["version"] == ("1", "4")
    lots = {l.lot_id: l for l in diff.lots}
    # FIFO sold all of L1 and 2 of L2, bought after version 1.
    assert lots["L1"].change == "removed" and lots["L1"].quantity_after == "" and Decimal(lots["L1"].quantity_before) == 10
    assert lots["L2"].change == "added" and lots["L2"].quantity_before == "" and Decimal(lots["L2"].quantity_after) == after["lots"]["L2"][0]
    step = s.mesh.DiffPosition(dm.DiffPositionRequest(position_id=first, from_version=3, to_version=4), timeout=10)
    assert [c.field for c in step.changes] == ["last_price", "last_priced_at", "version", "updated_at"] and not step.lots

    d = s.mesh.DiffPosition
    expect_status(INVALID, lambda: d(dm.DiffPositionRequest(position_id=first), timeout=10), "from_version")
    expect_status(INVALID, lambda: d(dm.DiffPositionRequest(position_id=first, from_version=3, to_version=2), timeout=10), "to_version")
    expect_status(INVALID, lambda: d(dm.DiffPositionRequest(position_id=first, from_version=2, to_version=9), timeout=10),
                  "to_version", "version 4")
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: d(dm.DiffPositionRequest(position_id="nope", from_version=1), timeout=10))
    p = s.mesh.GetPortfolioAsOf
    expect_status(INVALID, lambda: p(dm.GetPortfolioAsOfRequest(client_id=client), timeout=10), "as_of_time", "required")
    expect_status(INVALID, lambda: p(dm.GetPortfolioAsOfRequest(client_id=client, as_of_time=ts(NOW + timedelta(days=1))),
                                     timeout=10), "as_of_time", "future")
    expect_status(INVALID, lambda: p(dm.GetPortfolioAsOfRequest(as_of_time=ts(NOW)), timeout=10), "client_id")
    expect_status(INVALID, lambda: p(dm.GetPortfolioAsOfRequest(client_id=client, as_of_time=ts(NOW), max_positions=-1),
                                     timeout=10), "max_positions")


# OpenLineage ------------------------------------------------------------------------------

def lineage_events(mesh):
    dump = subprocess.run(["kcat", "-C", "-b", mesh["bootstrap"], "-t", "holdings.lineage", "-e", "-q", "-f", "%s\n"],
                          capture_output=True, timeout=60, check=True).stdout.decode()
    return [json.loads(line) for line in dump.splitlines() if line.strip()]


def official(event):
    """The event rebuilt with openlineage-python's models (each facet's class names its fields:
    an unknown or missing field raises), serialized back by its Serde."""
    from openlineage.client import event_v2 as ol
    from openlineage.client.generated import column_lineage_dataset as cl
    from openlineage.client.generated import data_quality_assertions_dataset as dqa
    from openlineage.client.generated import data_quality_metrics_input_dataset as dqm
    from openlineage.client.generated import output_statistics_output_dataset as stats
    from openlineage.client.generated import parent_run as parent

    def base(facet):
        return {"producer": facet["_producer"]}

    def fields(facet):
        return {k: v for k, v in facet.items() if not k.startswith("_")}

    def input_facet(name, facet):
        if name == "dataQualityMetrics":
            body = fields(facet)
            metrics = {column: dqm.ColumnMetrics(**values) for column, values in body.pop("columnMetrics").items()}
            return dqm.DataQualityMetricsInputDatasetFacet(columnMetrics=metrics, **body, **base(facet))
        if name == "dataQualityAssertions":
            return dqa.DataQualityAssertionsDatasetFacet(assertions=[dqa.Assertion(**a) for a in facet["assertions"]], **base(facet))
        raise AssertionError(f"unexpected input facet {name}")

    def dataset_facet(name, facet):
        assert name == "columnLineage", name
        return cl.ColumnLineageDatasetFacet(fields={
            column: cl.Fields(inputFields=[cl.InputField(**{**f, "transformations": [cl.Transformation(**t) for t in f["transformations"]]})
                                           for f in body["inputFields"]])
            for column, body in facet["fields"].items()}, **base(facet))

    def run_facet(name, facet):
        assert name == "parent", name
        return parent.ParentRunFacet(run=parent.Run(**facet["run"]), job=parent.Job(**facet["job"]), **base(facet))

    inputs = [ol.InputDataset(namespace=d["namespace"], name=d["name"],
                              facets={k: dataset_facet(k, v) for k, v in d.get("facets", {}).items()},
                              inputFacets={k: input_facet(k, v) for k, v in d.get("inputFacets", {}).items()})
              for d in event["inputs"]]
    outputs = [ol.OutputDataset(namespace=d["namespace"], name=d["name"],
                                facets={k: dataset_facet(k, v) for k, v in d.get("facets", {}).items()},
                                outputFacets={k: stats.OutputStatisticsOutputDatasetFacet(**fields(v), **base(v))
                                              for k, v in d.get("outputFacets", {}).items()})
               for d in event["outputs"]]
    model = ol.RunEvent(eventType=ol.RunState(event["eventType"]), eventTime=event["eventTime"], producer=event["producer"],
                        run=ol.Run(runId=event["run"]["runId"], facets={k: run_facet(k, v) for k, v in event["run"].get("facets", {}).items()}),
                        job=ol.Job(namespace=event["job"]["namespace"], name=event["job"]["name"]), inputs=inputs, outputs=outputs)
    from openlineage.client.serde import Serde
    return Serde.to_dict(model)


def pruned(value):
    """Without empty objects and lists (the models write some defaults as {} or [])."""
    if isinstance(value, dict):
        value = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in value.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def test_openlineage_run_events_of_batches_and_rebalancing_runs_are_valid(mesh):
    import jsonschema
    s = mesh["admin"]
    client = "ol-" + uuid.uuid4().hex[:8]
    a, b = "OA" + uuid.uuid4().hex[:4].upper(), "OB" + uuid.uuid4().hex[:4].upper()
    s.buy(client, a, 30, 100)
    s.buy(client, b, 5, 100)
    plan = s.rebalancing.PlanRebalancing(rb.PlanRebalancingRequest(client_id=client, target_weights={a: "0.5", b: "0.5"},
                                                                   strategy=ev.THRESHOLD, band=ev.DriftBand(absolute="0.01")), timeout=10)
    done = s.rebalancing.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id,
                                                                         request_id=uuid.uuid4().hex), timeout=10)
    # A bad record from elsewhere: its batch's assertions fail its rule.
    bad = opened("pos-olbad-" + uuid.uuid4().hex[:6], client, "OLC", unit_cost="5", basis="70")
    produce(mesh, bad.SerializeToString(), key=bad.aggregate_id)
    wait_for(lambda: any(r.event_id == bad.event_id for r in s.mesh.ListQuarantinedRecords(
        dm.ListQuarantinedRecordsRequest(), timeout=10).records))
    with open(__file__.replace("test_data_mesh.py", "openlineage_run_event.schema.json")) as file:
        schema = json.load(file)
    wait_for(lambda: any(e["job"]["name"] == "holdings.rebalancing" and e["eventType"] == "COMPLETE" for e in lineage_events(mesh)))
    events = lineage_events(mesh)
    assert len(events) >= 6
    for event in events:
        jsonschema.validate(event, schema)
        assert pruned(official(event)) == pruned(event), event
    batches = [e for e in events if e["job"]["name"] == "holdings.projector"]
    starts = {e["run"]["runId"]: e for e in batches if e["eventType"] == "START"}
    completes = {e["run"]["runId"]: e for e in batches if e["eventType"] == "COMPLETE"}
    assert set(starts) == set(completes) and starts  # every batch run started and completed
    for run, complete in completes.items():
        assert starts[run]["eventTime"] <= complete["eventTime"]
        metrics = complete["inputs"][0]["inputFacets"]["dataQualityMetrics"]
        assertions = complete["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
        assert [x["assertion"] for x in assertions] == list(RULES) and metrics["rowCount"] >= 1
    quarantining = [e for e in completes.values() if any(o["name"] == "public.dead_letters" for o in e["outputs"])]
    assert any(not {x["assertion"]: x["success"] for x in e["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]}
               ["amounts_reconcile"] for e in quarantining)
    applied = [e for e in completes.values() if any(o["name"] == "public.positions" for o in e["outputs"])]
    lineage = [o for e in applied for o in e["outputs"] if o["name"] == "public.positions"][0]["facets"]["columnLineage"]["fields"]
    assert {f["name"] for f in lineage["quantity"]["inputFields"]} == {"holdings.positions"}
    # The rebalancing run: one run id from START to COMPLETE, a child of the batch that applied it.
    runs = [e for e in events if e["job"]["name"] == "holdings.rebalancing"]
    mine = {}
    for e in runs:
        mine.setdefault(e["run"]["runId"], []).append(e["eventType"])
    assert ["START", "COMPLETE"] in mine.values()
    complete = [e for e in runs if e["eventType"] == "COMPLETE"][-1]
    assert {o["name"] for o in complete["outputs"]} == {"public.rebalancing_runs", "public.positions", "public.lots"}
    assert complete["run"]["facets"]["parent"]["run"]["runId"] in completes
    assert done.rebalancing_id


# Metrics ----------------------------------------------------------------------------------

def scrape(mesh):
    """The exposition, parsed by the Prometheus client library: {(name, labels): value}."""
    import urllib.request
    from prometheus_client.parser import text_string_to_metric_families
    with urllib.request.urlopen(mesh["metrics"], timeout=10) as answer:
        assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_metrics_endpoint_counts_calls_events_quality_and_lag(mesh):
    import socket
    import urllib.error
    import urllib.request
    s = mesh["admin"]
    open_method = "ultracore.holdings.v1.HoldingsService/OpenPosition"
    before = scrape(mesh)
    client = "mx-" + uuid.uuid4().hex[:8]
    for i in range(5):
        s.buy(client, f"MX{i}", 1, 10)
    s.buy(client, "MX0", 1, 10, when=NOW - timedelta(days=2))  # a LOT_ADDED booked late: bucket 95-99
    expect_status(INVALID, lambda: s.buy(client, "mx-bad", 1, 10), "ticker")
    bad = opened("pos-mxbad-" + uuid.uuid4().hex[:6], client, "MXB", unit_cost="5", basis="70")
    produce(mesh, bad.SerializeToString(), key=bad.aggregate_id)
    wait_for(lambda: value(scrape(mesh), "holdings_records_kept_out_total", cause="quality")
             == value(before, "holdings_records_kept_out_total", cause="quality") + 1)
    after = scrape(mesh)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)
    assert delta("grpc_server_call_started_total", grpc_method=open_method) == 7
    assert delta("grpc_server_call_duration_seconds_count", grpc_method=open_method, grpc_status="OK") == 6
    assert delta("grpc_server_call_duration_seconds_count", grpc_method=open_method, grpc_status="INVALID_ARGUMENT") == 1
    assert value(after, "grpc_server_call_duration_seconds_bucket", grpc_method=open_method, grpc_status="OK", le="+Inf") \
        == value(after, "grpc_server_call_duration_seconds_count", grpc_method=open_method, grpc_status="OK")
    assert delta("grpc_server_call_duration_seconds_sum", grpc_method=open_method, grpc_status="OK") > 0
    assert delta("holdings_events_projected_total", event_type="POSITION_OPENED", quality_bucket="100") == 5
    assert delta("holdings_events_projected_total", event_type="LOT_ADDED", quality_bucket="95-99") == 1
    assert value(after, "holdings_dead_letters_open_records") >= 1
    # Lag per partition of both event topics, 0 once idle; the read models' last event times.
    wait_for(lambda: sum(v for (n, _), v in scrape(mesh).items() if n == "holdings_projector_lag_events") == 0)
    idle = scrape(mesh)
    partitions = [dict(labels) for (n, labels), _ in idle.items() if n == "holdings_projector_lag_events"]
    assert {p["topic"] for p in partitions} == {"holdings.positions", "holdings.agent-alerts"} and len(partitions) >= 2
    assert all(v == 0 for (n, _), v in idle.items() if n == "holdings_projector_lag_seconds")
    assert value(idle, "holdings_view_last_event_timestamp_seconds", view="positions") > NOW.timestamp() - 600
    # Only /metrics is served; a malformed request is refused and the endpoint keeps serving.
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(mesh["metrics"].replace("/metrics", "/nope"), timeout=10)
    assert missing.value.code == 404
    host, port = re.search(r"http://([^:]+):(\d+)/", mesh["metrics"]).groups()
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
        raw.settimeout(10)
        reply = raw.recv(200)
        assert reply == b"" or reply.startswith(b"HTTP/1.1 4")
    assert value(scrape(mesh), "holdings_dead_letters_open_records") >= 1


def test_a_metrics_port_that_cannot_be_bound_stops_holdingsd_with_the_reason(postgres):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(holdingsd_command(postgres.new_database(), "--no-agent", "--metrics-port", str(port)),
                             capture_output=True, text=True, timeout=90)
    assert run.returncode != 0
    assert f"cannot serve metrics on 127.0.0.1:{port}" in run.stderr + run.stdout, (run.stdout + run.stderr)[-2000:]
