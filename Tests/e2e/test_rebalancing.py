"""RebalancingService end to end (grpcio): evaluation by strategy, a tax-aware plan with costs
checked by hand, dry run and execution through the lot engine, request ids, stale plans, bad
input, a schedule firing on a controlled clock and surviving a restart, and executions
interrupted by broker faults leaving all or none of their trades."""
import os
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import grpc
import pytest

import samples
from conftest import holdings_channel, binary, holdingsd_command, start, stop
from test_event_backbone import expect_status

M = samples.holdings_modules()
pb = M["holdings_pb2"]
rb = M["rebalancing_pb2"]
ev = M["events_pb2"]
cb = M["cost_basis_pb2"]
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOW = datetime.now(timezone.utc)


def ts(when):
    from google.protobuf import timestamp_pb2
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(when)
    return value


class Stubs:
    def __init__(self, address):
        self.address = address
        channel = holdings_channel(address)
        self.holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
        self.rebalancing = M["rebalancing_pb2_grpc"].RebalancingServiceStub(channel)
        self.cost = M["cost_basis_pb2_grpc"].CostBasisServiceStub(channel)

    def buy(self, client, ticker, quantity, price, days_ago):
        return self.holdings.OpenPosition(pb.OpenPositionRequest(
            client_id=client, ticker=ticker, quantity=quantity, price=price,
            trade_time=ts(NOW - timedelta(days=days_ago))), timeout=10).position

    def mark(self, position_id, price, when=None):
        return self.holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(
            position_id=position_id, price=price, priced_at=ts(when or NOW)), timeout=10).position

    def events(self, client, *types):
        return list(self.holdings.ListEvents(pb.ListEventsRequest(client_id=client, event_types=list(types), page_size=1000),
                                             timeout=10).events)


@pytest.fixture(scope="module")
def stubs(server):
    return Stubs(server[0])


def portfolio(stubs):
    """AAPL: L1 10 @ 100 (700 days ago, long), L2 10 @ 150 (100 days, short), L3 10 @ 120 (50 days,
    short), priced 130 (3900); MSFT: 10 @ 200 (400 days, long), priced 200 (2000). Total 5900."""
    client = "reb-" + uuid.uuid4().hex[:8]
    stubs.buy(client, "AAPL", "10", "100", 700)
    stubs.buy(client, "AAPL", "10", "150", 100)
    aapl = stubs.buy(client, "AAPL", "10", "120", 50)
    msft = stubs.buy(client, "MSFT", "10", "200", 400)
    stubs.mark(aapl.position_id, "130")
    stubs.mark(msft.position_id, "200")
    return client, aapl.position_id, msft.position_id


BAND = ev.DriftBand(absolute="0.05")
TARGETS = {"AAPL": "0.5", "MSFT": "0.5"}
COSTS = rb.PlanConstraints(commission_per_trade="1", commission_bps="10", spread_bps="5")


def test_threshold_evaluation_plan_dry_run_and_execution(stubs):
    client, aapl, msft = portfolio(stubs)
    r = stubs.rebalancing
    evaluation = r.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
        client_id=client, target_weights=TARGETS, strategy=ev.THRESHOLD, band=BAND), timeout=10)
    assert evaluation.should_rebalance and evaluation.event_id
    assert Decimal(evaluation.portfolio_value) == 5900
    drifts = {d.ticker: d for d in evaluation.drifts}
    assert Decimal(drifts["AAPL"].current_weight) == (Decimal(3900) / 5900).quantize(Decimal("1E-10"))
    assert drifts["AAPL"].outside_band and drifts["MSFT"].outside_band
    assert Decimal(drifts["MSFT"].drift) < 0 and any("AAPL drifted" in reason for reason in evaluation.reasons)
    triggered = stubs.events(client, ev.REBALANCING_TRIGGERED)
    assert [e.event_id for e in triggered] == [evaluation.event_id]
    # Inside a wide band: nothing to do, nothing emitted.
    calm = r.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
        client_id=client, target_weights=TARGETS, strategy=ev.THRESHOLD, band=ev.DriftBand(relative="0.5")), timeout=10)
    assert not calm.should_rebalance and not calm.event_id and calm.reasons == ["every asset is within its band"]

    plan = r.PlanRebalancing(rb.PlanRebalancingRequest(client_id=client, target_weights=TARGETS, strategy=ev.THRESHOLD,
                                                       band=BAND, constraints=COSTS), timeout=10)
    assert plan.plan_id
    sell, buy = plan.trades
    # AAPL: target 2950, 950 too much → 7 whole shares at 130 = 910; commission 1 + 0.1 % = 1.91,
    # spread 0.05 % = 0.455. Losses first: all 7 from L2 (cost 150, short term).
    assert (sell.ticker, sell.side, sell.quantity, sell.estimated_price) == ("AAPL", M["common_pb2"].SELL, "7", "130")
    assert Decimal(sell.estimated_value) == 910 and Decimal(sell.commission) == Decimal("1.91")
    assert Decimal(sell.spread_cost) == Decimal("0.455") and Decimal(sell.estimated_cost) == Decimal("2.365")
    assert [(l.lot_id, l.quantity) for l in sell.lots] == [("L2", "7")]
    loss = Decimal(910) - Decimal("2.365") - 7 * 150
    assert Decimal(sell.realized_gains.short_term) == loss and Decimal(sell.realized_gains.long_term) == 0
    assert Decimal(sell.tax_impact) == (loss * Decimal("0.37")).quantize(Decimal("0.0001"))
    # MSFT: 950 short, cash 907.635 → 4 shares at 200 (each costs 200.3 with fees): 800 + 1.8 + 0.4.
    assert (buy.ticker, buy.side, buy.quantity) == ("MSFT", M["common_pb2"].BUY, "4")
    assert Decimal(buy.estimated_cost) == Decimal("2.2") and not buy.lots
    assert Decimal(plan.total_estimated_cost) == Decimal("4.565")
    assert Decimal(plan.projected_cash) == Decimal(910) - Decimal("2.365") - Decimal("802.2")
    total = Decimal(23 * 130 + 14 * 200) + Decimal(plan.projected_cash)
    assert Decimal(plan.projected_weights["AAPL"]) == (Decimal(2990) / total).quantize(Decimal("1E-10"))

    dry = r.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id, dry_run=True), timeout=10)
    assert dry.dry_run and not dry.rebalancing_id and [t.event_id for t in dry.trades] == ["", ""]
    assert Decimal(dry.portfolio.market_value) == 2990 + 2800
    assert [Decimal(x.realized_gain) for x in dry.trades[0].realized] == [loss]
    assert stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=aapl), timeout=10).position.quantity == "30"
    assert len(stubs.events(client, ev.TRADE_EXECUTED)) == 0

    request_id = "exec-" + uuid.uuid4().hex[:8]
    done = r.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id, request_id=request_id), timeout=10)
    assert done.rebalancing_id and not done.dry_run and all(t.event_id for t in done.trades)
    assert Decimal(done.total_cost) == Decimal("4.565") and Decimal(done.portfolio.market_value) == 5790
    position = stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=aapl), timeout=10).position
    assert position.quantity == "23" and [(l.lot_id, l.quantity) for l in position.lots] == [("L1", "10"), ("L2", "3"), ("L3", "10")]
    assert Decimal(position.realized_gain) == loss
    bought = stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=msft), timeout=10).position
    assert bought.quantity == "14" and bought.lots[-1].lot_id == "L2" and Decimal(bought.lots[-1].cost_basis) == Decimal("802.2")
    kinds = [e.event_type for e in stubs.events(client, ev.REBALANCING_TRIGGERED, ev.TRADE_EXECUTED, ev.REBALANCING_COMPLETED)]
    assert kinds.count(ev.TRADE_EXECUTED) == 2 and kinds.count(ev.REBALANCING_COMPLETED) == 1
    # The same request again: the same outcome; another execution of the plan is refused.
    again = r.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id, request_id=request_id), timeout=10)
    assert again.rebalancing_id == done.rebalancing_id
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: r.ExecuteRebalancing(rb.ExecuteRebalancingRequest(
        client_id=client, plan_id=plan.plan_id), timeout=10), "already executed")
    # The sale is a realized gain of the client; the audit trail rebuilds the live positions.
    gains = stubs.cost.GetRealizedGains(cb.GetRealizedGainsRequest(client_id=client), timeout=10)
    assert Decimal(gains.totals.short_term) == loss
    for position_id in (aapl, msft):
        live = stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=position_id), timeout=10).position
        rebuilt = stubs.holdings.ReconstructPosition(pb.ReconstructPositionRequest(position_id=position_id), timeout=10).position
        assert (rebuilt.quantity, rebuilt.cost_basis, rebuilt.version) == (live.quantity, live.cost_basis, live.version)


def test_stale_plan_fractional_shares_buffer_new_position_and_min_trade(stubs):
    client, aapl, _ = portfolio(stubs)
    r = stubs.rebalancing
    plan = r.PlanRebalancing(rb.PlanRebalancingRequest(client_id=client, target_weights=TARGETS, strategy=ev.THRESHOLD,
                                                       band=BAND), timeout=10)
    stubs.buy(client, "AAPL", "1", "130", 1)
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: r.ExecuteRebalancing(rb.ExecuteRebalancingRequest(
        client_id=client, plan_id=plan.plan_id), timeout=10), "changed since plan")

    other = "frac-" + uuid.uuid4().hex[:8]
    x = stubs.buy(other, "XYZ", "100", "10", 30)
    stubs.mark(x.position_id, "10")
    targets = {"XYZ": "0.3", "NEWT": "0.6"}
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: r.PlanRebalancing(rb.PlanRebalancingRequest(
        client_id=other, target_weights=targets, strategy=ev.CALENDAR), timeout=10), "prices[NEWT]")
    constraints = rb.PlanConstraints(cash_buffer="0.1", allow_fractional_shares=True)
    plan = r.PlanRebalancing(rb.PlanRebalancingRequest(client_id=other, target_weights=targets, strategy=ev.CALENDAR,
                                                       constraints=constraints, prices={"NEWT": "7"}), timeout=10)
    # Investable 900: XYZ to 270 (sell 73 of 100), NEWT to 540 / 7 = 77.142857 shares (6 places).
    assert [(t.ticker, t.quantity) for t in plan.trades] == [("XYZ", "73"), ("NEWT", "77.142857")]
    assert Decimal(plan.projected_cash) == 730 - Decimal("77.142857") * 7
    done = r.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=other, plan_id=plan.plan_id), timeout=10)
    new_position = done.trades[1].position_id
    assert new_position != x.position_id
    created = stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=new_position), timeout=10).position
    assert (created.ticker, created.quantity, created.version) == ("NEWT", "77.142857", 1)
    # Every trade under the minimum value: an empty plan.
    small = r.PlanRebalancing(rb.PlanRebalancingRequest(client_id=other, target_weights={"XYZ": "0.1"}, strategy=ev.CALENDAR,
                                                        prices={"NEWT": "7"},
                                                        constraints=rb.PlanConstraints(min_trade_value="1000")), timeout=10)
    assert list(small.trades) == [] and Decimal(small.total_estimated_cost) == 0
    # Selling a whole position to a target of 0 closes it.
    gone = r.PlanRebalancing(rb.PlanRebalancingRequest(client_id=other, target_weights={"NEWT": "1"}, strategy=ev.CALENDAR,
                                                       prices={"NEWT": "7"}), timeout=10)
    assert (gone.trades[0].ticker, gone.trades[0].quantity) == ("XYZ", "27")
    r.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=other, plan_id=gone.plan_id), timeout=10)
    closed = stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=x.position_id), timeout=10).position
    assert closed.status == M["common_pb2"].POSITION_STATUS_CLOSED and closed.quantity == "0"
    # The valuation history sees the close: XYZ (the only priced position) is worth 0 from then on.
    an = M["analytics_pb2"]
    history = an.SeriesInput(history=an.ClientHistory(client_id=other))
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: M["analytics_pb2_grpc"].AnalyticsServiceStub(
        holdings_channel(stubs.address)).ComputePerformance(an.ComputePerformanceRequest(series=history), timeout=10),
        "is worth 0")


def test_calendar_and_tactical_strategies(stubs):
    client, _, _ = portfolio(stubs)
    r = stubs.rebalancing
    due = r.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
        client_id=client, target_weights=TARGETS, strategy=ev.CALENDAR, cadence=ev.MONTHLY,
        last_rebalanced_at=ts(datetime(2026, 10, 15, tzinfo=timezone.utc)), as_of=ts(datetime(2026, 11, 2, tzinfo=timezone.utc))), timeout=10)
    assert due.should_rebalance and "2026-11-01T00:00:00Z" in due.reasons[0]
    not_due = r.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
        client_id=client, target_weights=TARGETS, strategy=ev.CALENDAR, cadence=ev.QUARTERLY,
        last_rebalanced_at=ts(datetime(2026, 10, 1, 0, 0, 1, tzinfo=timezone.utc)), as_of=ts(datetime(2026, 12, 31, tzinfo=timezone.utc))), timeout=10)
    assert not not_due.should_rebalance and "2027-01-01T00:00:00Z" in not_due.reasons[0] and not not_due.event_id
    weekly = r.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
        client_id=client, target_weights=TARGETS, strategy=ev.CALENDAR, cadence=ev.WEEKLY,
        last_rebalanced_at=ts(datetime(2026, 11, 18, 12, tzinfo=timezone.utc)), as_of=ts(datetime(2026, 11, 23, 0, 0, 1, tzinfo=timezone.utc))), timeout=10)
    assert weekly.should_rebalance and "2026-11-23T00:00:00Z" in weekly.reasons[0]  # a Monday

    tactical = "tact-" + uuid.uuid4().hex[:8]
    up = stubs.buy(tactical, "UPP", "10", "10", 20)
    down = stubs.buy(tactical, "DWN", "10", "10", 20)
    for day, (a, b) in enumerate([("10", "10"), ("11", "9"), ("12", "8")]):
        stubs.mark(up.position_id, a, NOW - timedelta(days=3 - day))
        stubs.mark(down.position_id, b, NOW - timedelta(days=3 - day))
    # Momentum over 3 valuations: +0.2 and −0.2 → tilts +0.1 and −0.1 (max_tilt 0.1).
    result = r.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
        client_id=tactical, target_weights={"UPP": "0.5", "DWN": "0.5"}, strategy=ev.TACTICAL, band=ev.DriftBand(absolute="0.01"),
        signal=rb.TacticalSignal(lookback=3, max_tilt="0.1")), timeout=10)
    assert {k: Decimal(v) for k, v in result.effective_targets.items()} == {"UPP": Decimal("0.6"), "DWN": Decimal("0.4")}
    # Weights now 120 / 200 = 0.6 and 0.4: on target after the tilt.
    assert not result.should_rebalance
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: r.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
        client_id=tactical, target_weights={"UPP": "1"}, strategy=ev.TACTICAL, band=BAND,
        signal=rb.TacticalSignal(policy_id="nope")), timeout=10), "policy nope")


def test_bad_input_is_refused_naming_the_field(stubs):
    client, _, _ = portfolio(stubs)
    r = stubs.rebalancing
    evaluate = lambda **kw: r.EvaluateRebalancing(rb.EvaluateRebalancingRequest(**kw), timeout=10)
    expect_status(INVALID, lambda: evaluate(target_weights=TARGETS, strategy=ev.THRESHOLD, band=BAND), "client_id")
    expect_status(INVALID, lambda: evaluate(client_id=client, target_weights=TARGETS, band=BAND), "strategy")
    expect_status(INVALID, lambda: evaluate(client_id=client, strategy=ev.THRESHOLD, band=BAND), "target_weights is required")
    expect_status(INVALID, lambda: evaluate(client_id=client, target_weights={"AAPL": "0.7", "MSFT": "0.4"},
                                            strategy=ev.THRESHOLD, band=BAND), "add up to 1.1")
    expect_status(INVALID, lambda: evaluate(client_id=client, target_weights={"AAPL": "x"}, strategy=ev.THRESHOLD, band=BAND),
                  "target_weights[AAPL]")
    expect_status(INVALID, lambda: evaluate(client_id=client, target_weights={"aapl!": "0.5"}, strategy=ev.THRESHOLD, band=BAND),
                  "target_weights[aapl!]")
    expect_status(INVALID, lambda: evaluate(client_id=client, target_weights=TARGETS, strategy=ev.THRESHOLD), "band")
    expect_status(INVALID, lambda: evaluate(client_id=client, target_weights=TARGETS, strategy=ev.THRESHOLD,
                                            band=ev.DriftBand(absolute="-1")), "band.absolute")
    expect_status(INVALID, lambda: evaluate(client_id=client, target_weights=TARGETS, strategy=ev.CALENDAR), "cadence")
    expect_status(INVALID, lambda: evaluate(client_id=client, target_weights=TARGETS, strategy=ev.TACTICAL, band=BAND,
                                            signal=rb.TacticalSignal(lookback=1)), "signal.lookback")
    plan = lambda **kw: r.PlanRebalancing(rb.PlanRebalancingRequest(client_id=client, target_weights=TARGETS,
                                                                    strategy=ev.CALENDAR, **kw), timeout=10)
    expect_status(INVALID, lambda: plan(constraints=rb.PlanConstraints(cash_buffer="1.5")), "constraints.cash_buffer")
    expect_status(INVALID, lambda: plan(constraints=rb.PlanConstraints(commission_bps="abc")), "constraints.commission_bps")
    expect_status(INVALID, lambda: plan(constraints=rb.PlanConstraints(short_term_tax_rate="2")), "constraints.short_term_tax_rate")
    expect_status(INVALID, lambda: plan(prices={"AAPL": "0"}), "prices[AAPL]")
    execute = lambda **kw: r.ExecuteRebalancing(rb.ExecuteRebalancingRequest(**kw), timeout=10)
    expect_status(INVALID, lambda: execute(client_id=client), "plan_id")
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: execute(client_id=client, plan_id="plan-unknown"), "not found")
    made = plan()
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: execute(client_id="someone-else", plan_id=made.plan_id), "not found")
    schedule = lambda **kw: r.ScheduleRebalancing(rb.ScheduleRebalancingRequest(client_id=client, target_weights=TARGETS, **kw), timeout=10)
    expect_status(INVALID, lambda: schedule(strategy=ev.THRESHOLD, band=BAND), "cadence")
    expect_status(INVALID, lambda: schedule(cadence=ev.DAILY, band=BAND), "strategy")
    # Nothing of this was recorded.
    assert stubs.events(client, ev.REBALANCING_TRIGGERED, ev.TRADE_EXECUTED, ev.REBALANCING_SCHEDULED) == []


def wait_for(predicate, timeout=15, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def test_schedule_fires_on_the_controlled_clock_and_survives_a_restart(postgres):
    url = postgres.new_database()
    clock = tempfile.NamedTemporaryFile("w", suffix=".clock", delete=False)
    start_at = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def set_clock(when):
        with open(clock.name, "w") as f:
            f.write(str(int(when.timestamp())))

    set_clock(start_at - timedelta(hours=1))
    args = ("--scheduler-clock-file", clock.name, "--scheduler-interval-ms", "50")
    process, address = start(holdingsd_command(url, *args))
    try:
        stubs = Stubs(address)
        client = "sched-" + uuid.uuid4().hex[:8]
        a = stubs.buy(client, "AAPL", "10", "100", 30)
        m = stubs.buy(client, "MSFT", "10", "100", 30)
        stubs.mark(a.position_id, "150")
        stubs.mark(m.position_id, "100")   # weights 0.6 / 0.4
        made = stubs.rebalancing.ScheduleRebalancing(rb.ScheduleRebalancingRequest(
            client_id=client, cadence=ev.DAILY, strategy=ev.THRESHOLD, target_weights=TARGETS, band=BAND,
            start_at=ts(start_at), auto_execute=True, enabled=True), timeout=10).schedule
        assert made.schedule_id and made.next_run_at.ToDatetime(tzinfo=timezone.utc) == start_at
        time.sleep(0.5)
        assert stubs.events(client, ev.REBALANCING_TRIGGERED) == []
        set_clock(start_at + timedelta(seconds=30))
        wait_for(lambda: stubs.events(client, ev.REBALANCING_COMPLETED))
        # Target 1250 each: sell 1 AAPL (250 / 150, whole shares), buy 1 MSFT with the 150.
        assert stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=a.position_id), timeout=10).position.quantity == "9"
        assert stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=m.position_id), timeout=10).position.quantity == "11"
        stored = wait_for(lambda: postgres.psql(url, "SELECT next_run_at AT TIME ZONE 'UTC' FROM rebalancing_schedules").strip()
                          .startswith("2026-01-02") and postgres.psql(url, "SELECT version FROM rebalancing_schedules").strip())
        assert stored == "2"
    finally:
        stop(process)
    # A new process (and a new embedded broker) finds the schedule in Postgres and runs it on time.
    set_clock(start_at + timedelta(days=1, seconds=10))
    process, address = start(holdingsd_command(url, *args))
    try:
        wait_for(lambda: postgres.psql(url, "SELECT next_run_at AT TIME ZONE 'UTC' FROM rebalancing_schedules").strip()
                 .startswith("2026-01-03"))
        stubs = Stubs(address)
        schedules = stubs.events(client, ev.REBALANCING_SCHEDULED)
        assert [e.aggregate_version for e in schedules] == [1, 2, 3]
        assert schedules[-1].rebalancing_scheduled.schedule.last_run_at.ToDatetime(tzinfo=timezone.utc) == start_at + timedelta(days=1, seconds=10)
        # Disabled: the clock moves on, nothing runs.
        stubs.rebalancing.ScheduleRebalancing(rb.ScheduleRebalancingRequest(
            client_id=client, cadence=ev.DAILY, strategy=ev.THRESHOLD, target_weights=TARGETS, band=BAND,
            start_at=ts(start_at + timedelta(days=5)), enabled=False), timeout=10)
        set_clock(start_at + timedelta(days=10))
        time.sleep(0.5)
        assert len(stubs.events(client, ev.REBALANCING_SCHEDULED)) == 4
    finally:
        stop(process)
        os.unlink(clock.name)


def test_execution_interrupted_by_broker_faults_is_all_or_nothing(postgres):
    from test_faults import Broker
    url = postgres.new_database()
    broker = Broker(partitions=2)
    # One record per Produce request: a run of 4 events is 4 requests the broker can fail one by one.
    process, address = start(holdingsd_command(url, "--kafka-brokers", broker.bootstrap, "--kafka-message-timeout-ms", "3000",
                                               "--kafka-property", "batch.num.messages=1", "--kafka-property", "linger.ms=0"))
    try:
        stubs = Stubs(address)
        outcomes = []
        for attempt, errors in enumerate(["0,42", "0,0,42", "42", "0,0,0,42", "0,2,2,2"]):
            client = f"fault{attempt}-" + uuid.uuid4().hex[:6]
            a = stubs.buy(client, "AAPL", "10", "100", 30)
            m = stubs.buy(client, "MSFT", "10", "100", 30)
            stubs.mark(a.position_id, "150")
            stubs.mark(m.position_id, "100")
            plan = stubs.rebalancing.PlanRebalancing(rb.PlanRebalancingRequest(
                client_id=client, target_weights=TARGETS, strategy=ev.THRESHOLD, band=BAND), timeout=10)
            assert [(t.ticker, t.quantity) for t in plan.trades] == [("AAPL", "1"), ("MSFT", "1")]
            broker.command(f"produce-errors {errors}")
            try:
                stubs.rebalancing.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id), timeout=20)
                answered = "OK"
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
                answered = "UNAVAILABLE"
            broker.command("clear-errors")

            def settled():
                # Writes wait while the run is settled (reads show the portfolio before it); a
                # valuation at the same price is the probe.
                try:
                    stubs.mark(a.position_id, "150")
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
                    return None
                return (stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=a.position_id), timeout=10).position,
                        stubs.holdings.GetPosition(pb.GetPositionRequest(position_id=m.position_id), timeout=10).position)
            aapl, msft = wait_for(settled, timeout=30)
            state = (aapl.quantity, msft.quantity)
            assert state in {("10", "10"), ("9", "11")}, state
            if answered == "OK":
                assert state == ("9", "11")
            outcomes.append((errors, answered, state))
            # The log, Postgres and the write model agree, and the positions take new writes.
            for position in (aapl, msft):
                rebuilt = stubs.holdings.ReconstructPosition(pb.ReconstructPositionRequest(position_id=position.position_id), timeout=10).position
                assert (rebuilt.quantity, rebuilt.version) == (position.quantity, position.version)
                row = postgres.psql(url, f"SELECT quantity::text, version FROM positions WHERE position_id = '{position.position_id}'")
                assert [Decimal(x) for x in row.strip().split("|")] == [Decimal(position.quantity), position.version]
            after = stubs.buy(client, "AAPL", "1", "150", 1)
            assert after.version == aapl.version + 1
            runs = postgres.psql(url, f"SELECT outcome FROM rebalancing_runs WHERE client_id = '{client}'").split()
            assert runs in (["COMPLETED"], ["ABORTED"], []) and (runs == ["COMPLETED"]) == (state == ("9", "11"))
        print("fault outcomes:", outcomes)
        assert any(state == ("10", "10") for _, _, state in outcomes), outcomes
    finally:
        stop(process)
        broker.stop()
