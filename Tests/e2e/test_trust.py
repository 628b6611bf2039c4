"""The repros of the trust issue, each through grpcio against a real holdingsd, and the
class of bug behind each: a projector that wedges on a valid log, a hostile amount that
crashes the process, ids cut at U+0000, stale quotes, lot order, cash in lieu, dry runs,
valuation of never-priced positions, wash-sale windows, split prices, analytics edges,
and dead letters (a record the projection cannot apply never blocks the others)."""
import re
import subprocess
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import samples
from conftest import holdings_channel, holdingsd_command, start, stop
from test_event_backbone import expect_status

M = samples.holdings_modules()
pb = M["holdings_pb2"]
cb = M["cost_basis_pb2"]
an = M["analytics_pb2"]
ev = M["events_pb2"]
common = M["common_pb2"]
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def ts(text):
    from google.protobuf import timestamp_pb2
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(datetime.fromisoformat(text).replace(tzinfo=timezone.utc))
    return value


def unique(prefix):
    return prefix + uuid.uuid4().hex[:6].upper()


@pytest.fixture(scope="module")
def stubs(server):
    address, process = server
    channel = holdings_channel(address)
    return (M["holdings_pb2_grpc"].HoldingsServiceStub(channel), M["cost_basis_pb2_grpc"].CostBasisServiceStub(channel),
            M["analytics_pb2_grpc"].AnalyticsServiceStub(channel), process)


def buy(holdings, client, ticker, quantity, price, when=None, fees=""):
    request = pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity=quantity, price=price, fees=fees)
    if when:
        request.trade_time.CopyFrom(ts(when))
    return holdings.OpenPosition(request, timeout=20)


# 1. Close and reopen: the projection never wedges ------------------------------------------

def test_close_then_reopen_back_to_back_never_wedges_the_projector(postgres):
    """A close and a reopen of one ticker in one projector batch, for twelve tickers (a new
    position id sorts before the old one about half the time), made certain by a broker of
    its own and a Postgres outage: the projector is held on an earlier record, so the closes
    and reopens reach it together. Before the fix that batch failed on the unique
    open-ticker index and was retried forever: every read of the audit trail answered
    UNAVAILABLE."""
    from test_faults import Broker
    url = postgres.new_database()
    broker = Broker(partitions=2)
    process, address = start(holdingsd_command(url, "--kafka-brokers", broker.bootstrap))
    try:
        channel = holdings_channel(address)
        holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
        cost = M["cost_basis_pb2_grpc"].CostBasisServiceStub(channel)
        client = "reopen-" + uuid.uuid4().hex[:6]
        tickers = [unique("R") for _ in range(12)]
        for ticker in tickers:
            buy(holdings, client, ticker, "1", "9")
        assert len(holdings.ListEvents(pb.ListEventsRequest(client_id=client), timeout=10).events) == 12  # all in Postgres
        postgres.stop()
        try:
            buy(holdings, "reopen-other-" + uuid.uuid4().hex[:6], "ROTHER", "1", "1")  # the projector holds this one
            time.sleep(0.5)
            for ticker in tickers:
                cost.SellLots(cb.SellLotsRequest(client_id=client, ticker=ticker, quantity="1", price="11", method=common.FIFO), timeout=20)
                buy(holdings, client, ticker, "1", "12")
        finally:
            postgres.start()
        # Reads of the audit trail answer again (they wait for the projector, which would be wedged).
        deadline = time.monotonic() + 30
        while True:
            try:
                events = holdings.ListEvents(pb.ListEventsRequest(client_id=client, page_size=1000), timeout=10).events
                break
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline, error.details()
        assert len(events) == 36
        assert len(cost.GetRealizedGains(cb.GetRealizedGainsRequest(client_id=client), timeout=10).sales) == 12
        rows = postgres.psql(url, f"SELECT status, count(*) FROM positions WHERE client_id = '{client}' GROUP BY status ORDER BY status")
        assert rows.split() == ["CLOSED|12", "OPEN|12"]
        assert postgres.psql(url, "SELECT count(*) FROM dead_letters").strip() == "0"
    finally:
        stop(process)
        broker.stop()


# 1b. A hostile sale is refused before anything is produced; the process stays up -----------

def test_amounts_beyond_the_documented_range_are_refused_and_nothing_is_lost(stubs):
    holdings, cost, _, process = stubs
    client = "ovf-" + uuid.uuid4().hex[:6]
    ticker = unique("O")
    position = buy(holdings, client, ticker, "2", "1").position
    huge = "9" + "0" * 35
    for _ in range(2):
        expect_status(INVALID, lambda: cost.SellLots(cb.SellLotsRequest(
            client_id=client, ticker=ticker, quantity="1", price=huge, method=common.FIFO, request_id=uuid.uuid4().hex),
            timeout=10), "price", "10^15")
    # Within the input range, but the result would not be: 10^15 shares × 10^15.
    big = buy(holdings, client, unique("B"), "1000000000000000", "0.0000000001").position
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(
        position_id=big.position_id, price="1000000000000000"), timeout=10), "market value", "10^15")
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: cost.SellLots(cb.SellLotsRequest(
        client_id=client, ticker=big.ticker, quantity="2", price="1000000000000000", method=common.FIFO), timeout=10), "realized gain", "10^15")
    assert process.poll() is None, "holdingsd died"
    # The write model and the audit trail agree; the next write lands as version 2.
    after = buy(holdings, client, ticker, "1", "1").position
    assert after.version == 2
    trail = holdings.ListEvents(pb.ListEventsRequest(position_id=position.position_id), timeout=10).events
    assert [e.aggregate_version for e in trail] == [1, 2]


def test_totals_never_drop_a_lot(stubs):
    holdings, _, _, _ = stubs
    client = "tot-" + uuid.uuid4().hex[:6]
    ticker = unique("T")
    buy(holdings, client, ticker, "0.0000000001", "1")
    expect_status(INVALID, lambda: buy(holdings, client, ticker, "99999999999999999999999", "1"), "quantity")
    expect_status(INVALID, lambda: buy(holdings, client, ticker, "0.000000000000000001", "1"), "decimal places")
    # A buy whose position total would leave the range is refused; the total stays exact.
    buy(holdings, client, ticker, "999999999999999", "1")
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: buy(holdings, client, ticker, "1", "1"), "quantity of position")
    position = buy(holdings, client, ticker, "0.5", "1").position
    assert position.quantity == "999999999999999.5000000001"
    assert Decimal(position.quantity) == sum(Decimal(l.quantity) for l in position.lots)


# 1c. Identity and time ----------------------------------------------------------------------

def every_method_descriptor():
    """(service full name, method name, request class, server streaming) for every method of our services."""
    found = []
    for module_name in ["holdings", "cost_basis", "analytics", "rebalancing", "data_mesh", "agent"]:
        module = M[f"{module_name}_pb2"]
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                request = getattr(M[method.input_type.file.name.split("/")[-1].replace(".proto", "_pb2")], method.input_type.name)
                found.append((service.full_name, method.name, request, method.server_streaming))
    return found


def test_a_string_holding_u0000_is_refused_in_every_method(server):
    """protobuf-c would cut "abc\\0x" to "abc": every string field of every request refuses it."""
    address, process = server
    channel = holdings_channel(address)
    checked = 0
    for service, method, request_class, streaming in every_method_descriptor():
        strings = [f for f in request_class.DESCRIPTOR.fields if f.type == f.TYPE_STRING and not f.is_repeated]
        for field in strings:
            request = request_class()
            setattr(request, field.name, "abc\x00x")
            call = (channel.unary_stream if streaming else channel.unary_unary)(
                f"/{service}/{method}", request_serializer=request_class.SerializeToString, response_deserializer=lambda b: b)
            with pytest.raises(grpc.RpcError) as raised:
                result = call(request, timeout=10)
                if streaming:
                    list(result)
            assert raised.value.code() == INVALID, (method, field.name, raised.value.details())
            assert "U+0000" in raised.value.details() and field.name in raised.value.details(), raised.value.details()
            checked += 1
    assert checked > 50
    assert process.poll() is None


def test_a_stale_quote_is_history_and_does_not_replace_a_newer_price(stubs):
    holdings, _, _, _ = stubs
    client = "stale-" + uuid.uuid4().hex[:6]
    ticker = unique("S")
    position = buy(holdings, client, ticker, "1", "2").position
    holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=position.position_id, price="5",
                                                               priced_at=ts("2026-01-02T00:00:00")), timeout=10)
    old = holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=position.position_id, price="3",
                                                                     priced_at=ts("1970-01-01T00:00:00")), timeout=10).position
    assert (old.last_price, old.last_priced_at.seconds) == ("5", ts("2026-01-02T00:00:00").seconds)
    assert old.version == 3
    holdings.PublishPrices(pb.PublishPricesRequest(prices=[common.PriceQuote(ticker=ticker, price="4", priced_at=ts("2000-01-01T00:00:00"))]), timeout=10)
    assert holdings.GetPosition(pb.GetPositionRequest(position_id=position.position_id), timeout=10).position.last_price == "5"
    expect_status(INVALID, lambda: holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(
        position_id=position.position_id, price="3", priced_at=ts("0001-01-01T00:00:00")), timeout=10), "priced_at", "1900")
    expect_status(INVALID, lambda: holdings.PublishPrices(pb.PublishPricesRequest(prices=[common.PriceQuote(
        ticker=ticker, price="3", priced_at=ts("1899-12-31T23:59:59"))]), timeout=10), "prices[0].priced_at")


# 2–9. Wrong answers ---------------------------------------------------------------------------

def split(holdings, ticker, to, frm, cash=""):
    return holdings.ApplyCorporateAction(pb.ApplyCorporateActionRequest(
        ticker=ticker, type=ev.SPLIT, split_to=to, split_from=frm, cash_in_lieu_price=cash), timeout=30)


def test_hifo_compares_unit_costs_exactly_after_a_reverse_split(stubs):
    holdings, cost, _, _ = stubs
    client = "hifo-" + uuid.uuid4().hex[:6]
    ticker = unique("H")
    buy(holdings, client, ticker, "10", "100", "2024-01-02T12:00:00")
    buy(holdings, client, ticker, "7", "200", "2024-01-03T12:00:00", fees="0.01")
    cost.SellLots(cb.SellLotsRequest(client_id=client, ticker=ticker, quantity="1", price="150", method=common.SPECIFIC_ID,
                                     lot_selections=[common.LotSelection(lot_id="L2", quantity="1")]), timeout=10)
    split(holdings, ticker, "1", "3", "700")
    sale = cost.SellLots(cb.SellLotsRequest(client_id=client, ticker=ticker, quantity="1", price="700", method=common.HIFO), timeout=10)
    assert [r.lot_id for r in sale.realized] == ["L2"]  # unit cost 600.004… against 300.000000003


def test_cash_in_lieu_is_a_realized_sale_in_every_report(stubs):
    holdings, cost, _, _ = stubs
    client = "cil-" + uuid.uuid4().hex[:6]
    ticker = unique("C")
    position = buy(holdings, client, ticker, "5", "90", "2024-01-02T12:00:00").position
    split(holdings, ticker, "3", "2", "70")
    after = holdings.GetPosition(pb.GetPositionRequest(position_id=position.position_id), timeout=10).position
    # 7.5 shares: 0.5 paid at 70 = 35 against a basis of 450 × 0.5 ÷ 7.5 = 30.
    assert (after.quantity, after.realized_gain) == ("7", "5")
    gains = cost.GetRealizedGains(cb.GetRealizedGainsRequest(client_id=client), timeout=10)
    assert gains.totals.total == "5"
    (sale,) = gains.sales
    assert sale.cash_in_lieu and [(l.lot_id, l.quantity, l.cost_basis, l.proceeds) for l in sale.lots] == [("L1", "0.5", "30", "35")]


def test_lots_in_acquisition_order_and_the_newest_acquired_pays_cash_in_lieu(stubs):
    holdings, _, _, _ = stubs
    client = "order-" + uuid.uuid4().hex[:6]
    ticker = unique("L")
    buy(holdings, client, ticker, "3", "100", "2024-05-01T12:00:00")
    position = buy(holdings, client, ticker, "2", "50", "2023-05-01T12:00:00").position
    assert [l.lot_id for l in position.lots] == ["L2", "L1"]
    (result,) = split(holdings, ticker, "3", "2", "80").results
    assert [l.lot_id for l in result.lots_after] == ["L2", "L1"]
    assert result.cash_in_lieu_gain == "6.6666666667"


def test_reports_are_ordered_by_ticker_then_acquisition(stubs):
    holdings, cost, _, _ = stubs
    client = "rep-" + uuid.uuid4().hex[:6]
    tag = uuid.uuid4().hex[:4].upper()
    for ticker in [f"Z{tag}", f"M{tag}", f"A{tag}"]:
        buy(holdings, client, ticker, "1", "10", "2025-01-02T12:00:00")
        p = buy(holdings, client, ticker, "1", "10", "2024-01-02T12:00:00").position
        holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=p.position_id, price="11"), timeout=10)
    value = holdings.GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client), timeout=10)
    assert [p.ticker for p in value.positions] == [f"A{tag}", f"M{tag}", f"Z{tag}"]
    unrealized = cost.GetUnrealizedGainLoss(cb.GetUnrealizedGainLossRequest(client_id=client), timeout=10)
    assert [(l.ticker, l.lot.lot_id) for l in unrealized.lots] == [
        (t, lot) for t in [f"A{tag}", f"M{tag}", f"Z{tag}"] for lot in ["L2", "L1"]]


def test_a_dry_run_answers_exactly_what_the_sale_would(stubs):
    holdings, cost, _, _ = stubs
    client = "dry-" + uuid.uuid4().hex[:6]
    ticker = unique("D")
    buy(holdings, client, ticker, "2", "100")
    request = dict(client_id=client, ticker=ticker, quantity="2", price="150", method=common.FIFO, trade_time=ts("2026-01-02T00:00:00"))
    dry = cost.SellLots(cb.SellLotsRequest(dry_run=True, **request), timeout=10)
    real = cost.SellLots(cb.SellLotsRequest(**request), timeout=10)
    assert dry.dry_run and not dry.event_id and real.event_id
    dry.dry_run, dry.event_id = False, real.event_id
    for part in (dry, real):
        part.position.ClearField("updated_at")
    assert dry == real
    assert (real.position.realized_gain, real.position.status, real.position.version) == ("100", common.POSITION_STATUS_CLOSED, 2)


def test_a_never_priced_position_counts_at_cost_everywhere(stubs):
    holdings, _, _, _ = stubs
    client = "cost-" + uuid.uuid4().hex[:6]
    tag = uuid.uuid4().hex[:4].upper()
    buy(holdings, client, f"A{tag}", "1", "1000")
    b = buy(holdings, client, f"B{tag}", "1", "500").position
    holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=b.position_id, price="600"), timeout=10)
    value = holdings.GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client), timeout=10)
    assert value.market_value == "1600"
    assert [(p.ticker, p.weight) for p in value.positions] == [(f"A{tag}", "0.625"), (f"B{tag}", "0.375")]
    # MonitorPortfolio weighs the same way: A is 0.625 of the portfolio, above a 0.6 limit.
    alerts = holdings.MonitorPortfolio(pb.MonitorPortfolioRequest(client_id=client, concentration_limit="0.6"), timeout=10).alerts
    assert [a.ticker for a in alerts if a.kind == common.CONCENTRATION] == [f"A{tag}"]


def test_wash_sale_window_counts_calendar_days(stubs):
    holdings, cost, _, _ = stubs
    client = "wash-" + uuid.uuid4().hex[:6]
    ticker = unique("W")
    buy(holdings, client, ticker, "1", "100", "2025-01-02T12:00:00")
    position = buy(holdings, client, ticker, "1", "100", "2025-05-02T11:00:00").position  # 30th day before as_of
    holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=position.position_id, price="50",
                                                               priced_at=ts("2025-06-01T00:00:00")), timeout=10)
    candidates = cost.GetTaxLossHarvestCandidates(cb.GetTaxLossHarvestCandidatesRequest(
        client_id=client, as_of=ts("2025-06-01T12:00:00")), timeout=10).candidates
    assert {c.lot.lot_id: c.wash_sale_risk for c in candidates} == {"L1": True, "L2": False}


def test_a_split_scales_the_last_price(stubs):
    holdings, _, _, _ = stubs
    client = "sp-" + uuid.uuid4().hex[:6]
    ticker = unique("P")
    p = buy(holdings, client, ticker, "10", "100").position
    holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=p.position_id, price="100"), timeout=10)
    split(holdings, ticker, "2", "1")
    after = holdings.GetPosition(pb.GetPositionRequest(position_id=p.position_id), timeout=10).position
    assert (after.quantity, after.last_price, after.market_value) == ("20", "50", "1000")


# 10. Money-weighted return and drawdown edges ------------------------------------------------

def values_input(values, times=None):
    return an.SeriesInput(values=an.ValueSeries(values=values, times=[ts(t) for t in times or []]))


def test_xirr_over_long_spans_and_the_documented_ceiling(stubs):
    _, _, analytics, _ = stubs
    perf = analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=values_input(["100000", "95000", "90000"], ["1985-01-02T00:00:00", "2005-01-03T00:00:00", "2025-01-02T00:00:00"]),
        cash_flows=[an.CashFlow(time=ts("2005-01-03T00:00:00"), amount="1000")]), timeout=10)
    def brentq(f, low, high, xtol):  # plain bisection: the NPV is monotonic on this bracket
        for _ in range(200):
            middle = (low + high) / 2
            if (f(middle) > 0) == (f(low) > 0):
                low = middle
            else:
                high = middle
        return (low + high) / 2
    years = lambda a, b: (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 86400 / 365
    t1, t2 = years("1985-01-02", "2005-01-03"), years("1985-01-02", "2025-01-02")
    npv = lambda r: -100000 - 1000 * (1 + r) ** -t1 + 90000 * (1 + r) ** -t2
    assert perf.money_weighted_return == pytest.approx(brentq(npv, -0.5, 0.5, xtol=1e-16), rel=1e-10)
    assert perf.money_weighted_return == pytest.approx(-0.0028914, abs=1e-7)
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=values_input(["1", "1020002"], ["2025-01-01T00:00:00", "2026-01-01T00:00:00"]),
        cash_flows=[an.CashFlow(time=ts("2026-01-01T00:00:00"), amount="1")]), timeout=10), "money-weighted")


def test_drawdown_ties_and_recoveries_on_exact_values(stubs):
    _, _, analytics, _ = stubs
    dd = lambda values: analytics.ComputeMaxDrawdown(an.ComputeMaxDrawdownRequest(series=values_input(values)), timeout=10)
    assert dd(["60", "59", "60"]).recovery_index == 2
    assert dd(["100", "101", "57", "101"]).recovery_index == 3
    ties = dd(["31", "29.5", "30.5", "31", "29"])
    assert (ties.peak_index, ties.trough_index, ties.duration_periods, ties.recovery_index) == (3, 4, 1, -1)


def test_flow_times_finer_than_a_microsecond_are_refused(stubs):
    _, _, analytics, _ = stubs
    flow_time = ts("2025-01-02T00:00:00")
    flow_time.nanos = 1
    expect_status(INVALID, lambda: analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=values_input(["100", "110", "121"], ["2025-01-01T00:00:00", "2025-01-02T00:00:00", "2025-01-03T00:00:00"]),
        cash_flows=[an.CashFlow(time=flow_time, amount="10")]), timeout=10), "cash_flows[0].time", "microsecond")


# Dead letters ---------------------------------------------------------------------------------

def produce(bootstrap, body, partition=0, key=""):
    """One record, as another producer would write it (kcat sends a file as one message)."""
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".bin") as file:
        file.write(body)
        file.flush()
        subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", "holdings.positions", "-p", str(partition), "-k", key, file.name],
                       check=True, timeout=30)


def projection_health(address):
    stub = health_pb2_grpc.HealthStub(holdings_channel(address))
    return stub.Check(health_pb2.HealthCheckRequest(service="holdings.projection"), timeout=10).status


def wait_for(predicate, explain=lambda: "", timeout=20):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not reached {explain()}"
        time.sleep(0.1)


def test_a_record_the_projection_cannot_apply_is_dead_lettered_and_replayed_after_the_gap_is_filled(postgres):
    """Events from another producer: version 3 of a position arrives before version 2, and a
    record that is not an event. Both are dead-lettered loudly, the partition moves on (other
    writes are read back), health reports the projection degraded and the position's writes
    are refused; when version 2 arrives and holdingsd restarts, the replay applies 2 then 3."""
    url = postgres.new_database()
    process, address = start(holdingsd_command(url))
    try:
        bootstrap = re.search(r"brokers (\S+)\)", "".join(process.output)).group(1)
        channel = holdings_channel(address)
        holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
        client = "dl-" + uuid.uuid4().hex[:6]
        opened = holdings.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker="DLT", quantity="10", price="5",
                                                              trade_time=ts("2025-01-02T00:00:00")), timeout=10)
        position = opened.position

        def valued(version, price):
            event = ev.Event(event_id=str(uuid.uuid4()), event_type=ev.POSITION_VALUED, aggregate_id=position.position_id,
                             aggregate_version=version, client_id=client, source="elsewhere", schema_version=1)
            event.occurred_at.CopyFrom(ts("2025-02-01T00:00:00"))
            event.position_valued.CopyFrom(ev.PositionValued(position_id=position.position_id, client_id=client, ticker="DLT",
                                                             price=price, quantity="10", priced_at=ts("2025-02-01T00:00:00"),
                                                             market_value=str(10 * int(price))))
            return event

        produce(bootstrap, valued(3, "7").SerializeToString(), key=position.position_id)
        produce(bootstrap, b"\x08\x96\x01garbage", partition=1)
        # Later writes of other clients flow and are read back: the partition was not held.
        other = "dl2-" + uuid.uuid4().hex[:6]
        holdings.OpenPosition(pb.OpenPositionRequest(client_id=other, ticker="DLU", quantity="1", price="1"), timeout=10)
        wait_for(lambda: postgres.psql(url, "SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL").strip() == "2",
                 lambda: "".join(process.output)[-3000:])
        assert len(holdings.ListEvents(pb.ListEventsRequest(client_id=other), timeout=10).events) == 1
        reasons = postgres.psql(url, "SELECT reason FROM dead_letters ORDER BY kafka_partition")
        assert "expected 2" in reasons and "not an Event" in reasons
        wait_for(lambda: projection_health(address) == health_pb2.HealthCheckResponse.NOT_SERVING)
        assert any("DEAD LETTER" in line for line in process.output)

        def on_topic():
            dump = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", "holdings.dead-letters", "-e", "-q", "-f", "%h\n"],
                                  capture_output=True, timeout=30).stdout.decode(errors="replace")
            return [line for line in dump.splitlines() if "dead-letter-reason=" in line]
        wait_for(lambda: len(on_topic()) == 2)  # the dead-letter topic has both, with their reasons
        assert any("expected 2" in line for line in on_topic()) and any("source-offset=0" in line for line in on_topic())
        # Version 2 arrives (the gap is filled); it follows a dead letter, so it waits too.
        produce(bootstrap, valued(2, "6").SerializeToString(), key=position.position_id)
        wait_for(lambda: postgres.psql(url, "SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL").strip() == "3")
    finally:
        stop(process)
    # Restart: the write model sees the position quarantined until the replay applied it.
    process, address = start(holdingsd_command(url))
    try:
        holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(holdings_channel(address))
        assert postgres.psql(url, "SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL").strip() == "1"  # the garbage
        replayed = holdings.GetPosition(pb.GetPositionRequest(position_id=position.position_id), timeout=10).position
        assert (replayed.version, replayed.last_price) == (3, "7")
        assert projection_health(address) == health_pb2.HealthCheckResponse.NOT_SERVING  # the garbage record still waits
        # The position takes writes again, as version 4.
        again = holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=position.position_id, price="8"), timeout=10)
        assert again.position.version == 4
    finally:
        stop(process)


# 8. Wash sales, the whole way -------------------------------------------------------------------

def test_wash_sale_after_a_loss_sale_moves_the_loss_into_the_replacement(stubs):
    """Sell at a loss, close, and buy again 30 calendar days later: the loss is disallowed
    and carried into the new position's lot (basis and holding period), reported per sale."""
    holdings, cost, _, _ = stubs
    client = "ws-b-" + uuid.uuid4().hex[:6]
    ticker = unique("WB")
    buy(holdings, client, ticker, "10", "100", "2024-03-01T15:00:00")
    sale = cost.SellLots(cb.SellLotsRequest(client_id=client, ticker=ticker, quantity="10", price="80", method=common.FIFO,
                                            trade_time=ts("2025-03-01T15:00:00")), timeout=10)
    assert sale.position.status == common.POSITION_STATUS_CLOSED and sale.gains.total == "-200"
    # 31 calendar days later: outside the window, no wash sale.
    late = unique("WL")
    buy(holdings, client, late, "1", "1", "2024-03-01T15:00:00")
    # 30 calendar days after (31st March, 23:00 against 1st March, 15:00): 6 replacement shares.
    again = buy(holdings, client, ticker, "6", "90", "2025-03-31T23:00:00").position
    assert again.position_id != sale.position.position_id
    (lot,) = again.lots
    # 6 of the 10 loss shares: 200 × 6 ÷ 10 = 120 disallowed, added to 540.
    assert (lot.cost_basis, lot.wash_sale_adjustment) == ("660", "120")
    # Holding period: the sold shares were held from 2024-03-01T15:00 to 2025-03-01T15:00 (365 days).
    assert lot.holding_period_start.ToDatetime() == datetime(2024, 3, 31, 23, 0)
    assert lot.term == common.LONG_TERM
    # 4 loss shares remain unmatched: a later buy within the window takes them (80 disallowed), then the rest is plain.
    more = buy(holdings, client, ticker, "5", "90", "2025-03-20T12:00:00").position
    assert [(l.lot_id, l.quantity, l.cost_basis, l.wash_sale_adjustment) for l in more.lots] == [
        ("L2", "4", "440", "80"), ("L3", "1", "90", ""), ("L1", "6", "660", "120")]
    gains = cost.GetRealizedGains(cb.GetRealizedGainsRequest(client_id=client), timeout=10)
    (reported,) = [s for s in gains.sales if s.ticker == ticker]
    assert [(l.realized_gain, l.wash_sale_disallowed) for l in reported.lots] == [("-200", "200")]
    assert (gains.totals.total, gains.wash_sale_disallowed) == ("-200", "200")
    # A 31st calendar day buy is not a replacement.
    client2 = "ws-c-" + uuid.uuid4().hex[:6]
    ticker2 = unique("WC")
    buy(holdings, client2, ticker2, "1", "100", "2024-01-02T15:00:00")
    cost.SellLots(cb.SellLotsRequest(client_id=client2, ticker=ticker2, quantity="1", price="50", method=common.FIFO,
                                     trade_time=ts("2025-03-01T15:00:00")), timeout=10)
    outside = buy(holdings, client2, ticker2, "1", "50", "2025-04-01T00:00:00").position
    assert outside.lots[0].wash_sale_adjustment == "" and outside.lots[0].cost_basis == "50"


def test_wash_sale_with_replacement_shares_bought_before_the_loss_sale(stubs):
    """Buy 10 (L1), buy 4 more 20 days later (L2), sell L1 at a loss: L2's 4 shares are the
    replacement; 6 loss shares stay allowed (ledger for later buys)."""
    holdings, cost, _, _ = stubs
    client = "ws-a-" + uuid.uuid4().hex[:6]
    ticker = unique("WA")
    buy(holdings, client, ticker, "10", "50", "2025-01-02T15:00:00")
    buy(holdings, client, ticker, "4", "45", "2025-05-10T15:00:00")
    sale = cost.SellLots(cb.SellLotsRequest(client_id=client, ticker=ticker, quantity="10", price="40", method=common.SPECIFIC_ID,
                                            lot_selections=[common.LotSelection(lot_id="L1", quantity="10")],
                                            trade_time=ts("2025-05-30T15:00:00")), timeout=10)
    (part,) = sale.realized
    assert (part.realized_gain, part.wash_sale_disallowed) == ("-100", "40")
    (lot,) = sale.position.lots
    assert (lot.lot_id, lot.cost_basis, lot.wash_sale_adjustment) == ("L2", "220", "40")
    # Held 2025-01-02 → 2025-05-30 carried over: the replacement's period starts 148 days before 2025-05-10.
    assert lot.holding_period_start.ToDatetime() == datetime(2024, 12, 13, 15, 0)
    # Partial replacement: a 5-share lot against 2 loss shares is split (the matched shares get a new lot id).
    client3 = "ws-s-" + uuid.uuid4().hex[:6]
    ticker3 = unique("WS")
    buy(holdings, client3, ticker3, "2", "50", "2025-01-02T15:00:00")
    buy(holdings, client3, ticker3, "5", "45", "2025-05-10T15:00:00")
    split_sale = cost.SellLots(cb.SellLotsRequest(client_id=client3, ticker=ticker3, quantity="2", price="40", method=common.FIFO,
                                                  trade_time=ts("2025-05-30T15:00:00")), timeout=10)
    assert [(l.lot_id, l.quantity, l.cost_basis, l.wash_sale_adjustment) for l in split_sale.position.lots] == [
        ("L2", "3", "135", ""), ("L3", "2", "110", "20")]


def test_a_batch_postgres_refuses_for_its_data_is_split_and_the_bad_record_dead_lettered(postgres):
    """A read-model write Postgres refuses for its data (here a CHECK constraint added by hand
    that the position's next version violates) makes every batch touching that position fail:
    not an outage, so the batch is stored record by record and the record that fails alone is
    dead-lettered; the other writes of the batch flow. (A row edited by hand is not such a
    case any more: the projector keeps the positions it wrote and checks only their version,
    so the next event rewrites the row from the log.)"""
    url = postgres.new_database()
    process, address = start(holdingsd_command(url))
    try:
        channel = holdings_channel(address)
        holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
        client = "corrupt-" + uuid.uuid4().hex[:6]
        position = buy(holdings, client, "CRPT", "1", "5").position
        postgres.psql(url, "ALTER TABLE positions ADD CONSTRAINT e2e_refuse "
                           f"CHECK (position_id <> '{position.position_id}' OR version < 2)")
        expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: buy(holdings, client, "CRPT", "1", "6"), "dead-letter")
        other = "fine-" + uuid.uuid4().hex[:6]
        buy(holdings, other, "FINE", "1", "1")
        assert len(holdings.ListEvents(pb.ListEventsRequest(client_id=other), timeout=10).events) == 1
        reason = postgres.psql(url, "SELECT reason FROM dead_letters WHERE replayed_at IS NULL")
        assert "e2e_refuse" in reason and "the projection failed on it" in reason, reason
        wait_for(lambda: projection_health(address) == health_pb2.HealthCheckResponse.NOT_SERVING)
        expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(
            position_id=position.position_id, price="7"), timeout=10), "dead-letter")
    finally:
        stop(process)
