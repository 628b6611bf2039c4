"""AnalyticsService end to end (grpcio): every statistic against empyrical-reloaded on random
series, the edge cases, time- and money-weighted returns, drawdown details, and the valuation
history read model."""
import math
import uuid
from datetime import datetime, timedelta, timezone

import empyrical
import grpc
from conftest import holdings_channel
import numpy as np
import pytest
from scipy.optimize import brentq

import samples
from test_event_backbone import expect_status

M = samples.holdings_modules()
an = M["analytics_pb2"]
pb = M["holdings_pb2"]
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def ts(when):
    from google.protobuf import timestamp_pb2
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(when if isinstance(when, datetime) else datetime.fromisoformat(when).replace(tzinfo=timezone.utc))
    return value


@pytest.fixture(scope="module")
def stubs(server):
    address, _ = server
    channel = holdings_channel(address)
    return M["analytics_pb2_grpc"].AnalyticsServiceStub(channel), M["holdings_pb2_grpc"].HoldingsServiceStub(channel)


def returns_input(returns, times=()):
    return an.SeriesInput(returns=an.ReturnSeries(returns=list(returns), times=list(times)))


def values_input(values, times=()):
    return an.SeriesInput(values=an.ValueSeries(values=list(values), times=list(times)))


def close(ours, reference, what):
    """1e-9 relative error (with a 1e-12 floor for values at 0)."""
    reference = float(reference)
    if math.isnan(reference):
        assert math.isnan(ours), f"{what}: {ours} vs NaN"
        return
    assert abs(ours - reference) <= 1e-9 * max(abs(reference), 1e-3), f"{what}: {ours!r} vs empyrical {reference!r}"


CASES = [  # (seed, length, periods per year, risk free per period, required return)
    (1, 30, 252, 0.0, 0.0),
    (2, 252, 252, 0.0001, 0.0),
    (3, 2520, 252, 0.00005, 0.0002),
    (4, 104, 52, 0.0005, 0.001),
    (5, 60, 12, 0.002, -0.001),
    (6, 500, 252, 0.0, 0.0),
]


@pytest.mark.parametrize("seed,length,periods,risk_free,required", CASES)
def test_statistics_match_empyrical_on_random_series(stubs, seed, length, periods, risk_free, required):
    analytics, _ = stubs
    rng = np.random.default_rng(seed)
    scale = {252: 0.012, 52: 0.03, 12: 0.05}[periods]
    returns = rng.normal(0.0004 * 252 / periods, scale, length)
    benchmark = 0.6 * returns + rng.normal(0.0002 * 252 / periods, scale * 0.8, length)
    series = returns_input(returns)

    perf = analytics.ComputePerformance(an.ComputePerformanceRequest(series=series, periods_per_year=periods,
                                                                     risk_free_rate=risk_free), timeout=10)
    assert perf.observations == length
    close(perf.total_return, empyrical.cum_returns_final(returns), "total_return")
    close(perf.time_weighted_return, empyrical.cum_returns_final(returns), "time_weighted_return")
    close(perf.cagr, empyrical.annual_return(returns, annualization=periods), "cagr")
    close(perf.cagr, empyrical.cagr(returns, annualization=periods), "cagr (empyrical.cagr)")
    close(perf.annual_volatility, empyrical.annual_volatility(returns, annualization=periods), "annual_volatility")
    close(perf.calmar, empyrical.calmar_ratio(returns, annualization=periods), "calmar")
    assert math.isnan(perf.money_weighted_return)
    assert [u.statistic for u in perf.undefined] == ["money_weighted_return"]

    sharpe = analytics.ComputeSharpe(an.ComputeSharpeRequest(series=series, periods_per_year=periods, risk_free_rate=risk_free,
                                                             required_return=required), timeout=10)
    close(sharpe.sharpe, empyrical.sharpe_ratio(returns, risk_free=risk_free, annualization=periods), "sharpe")
    close(sharpe.sortino, empyrical.sortino_ratio(returns, required_return=required, annualization=periods), "sortino")
    close(sharpe.downside_risk, empyrical.downside_risk(returns, required_return=required, annualization=periods), "downside_risk")

    drawdown = analytics.ComputeMaxDrawdown(an.ComputeMaxDrawdownRequest(series=series), timeout=10)
    close(drawdown.max_drawdown, empyrical.max_drawdown(returns), "max_drawdown")
    wealth = np.concatenate([[100.0], 100 * np.cumprod(1 + returns)])
    assert drawdown.trough_index == int(np.argmin(wealth / np.maximum.accumulate(wealth) - 1))
    assert wealth[drawdown.peak_index] == np.maximum.accumulate(wealth)[drawdown.trough_index]

    relative = analytics.ComputeAlphaBeta(an.ComputeAlphaBetaRequest(series=series, benchmark=returns_input(benchmark),
                                                                     periods_per_year=periods, risk_free_rate=risk_free), timeout=10)
    alpha, beta = empyrical.alpha_beta(returns, benchmark, risk_free=risk_free, annualization=periods)
    close(relative.alpha, alpha, "alpha")
    close(relative.beta, beta, "beta")
    close(relative.information_ratio, empyrical.excess_sharpe(returns, benchmark), "information_ratio")
    close(relative.tracking_error, np.std(returns - benchmark, ddof=1) * math.sqrt(periods), "tracking_error")
    close(relative.r_squared, np.corrcoef(returns - risk_free, benchmark - risk_free)[0, 1] ** 2, "r_squared")
    assert relative.observations == length and not relative.undefined


def test_value_series_gives_the_same_statistics_as_its_returns(stubs):
    analytics, _ = stubs
    rng = np.random.default_rng(11)
    values = [f"{v:.4f}" for v in 1000 * np.cumprod(1 + rng.normal(0.0005, 0.01, 300))]
    floats = np.array([float(v) for v in values])
    returns = floats[1:] / floats[:-1] - 1
    sharpe = analytics.ComputeSharpe(an.ComputeSharpeRequest(series=values_input(values)), timeout=10)
    close(sharpe.sharpe, empyrical.sharpe_ratio(returns), "sharpe of values")
    perf = analytics.ComputePerformance(an.ComputePerformanceRequest(series=values_input(values)), timeout=10)
    close(perf.total_return, floats[-1] / floats[0] - 1, "total_return of values")
    assert perf.observations == 299


def test_drawdown_peak_trough_recovery_and_times(stubs):
    analytics, _ = stubs
    days = [datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(days=i) for i in range(6)]
    result = analytics.ComputeMaxDrawdown(an.ComputeMaxDrawdownRequest(
        series=values_input(["100", "120", "90", "60", "130", "125"], [ts(d) for d in days])), timeout=10)
    assert result.max_drawdown == pytest.approx(-0.5, abs=1e-15)
    assert (result.peak_index, result.trough_index, result.recovery_index, result.duration_periods) == (1, 3, 4, 3)
    assert result.peak_time.ToDatetime(tzinfo=timezone.utc) == days[1]
    assert result.trough_time.ToDatetime(tzinfo=timezone.utc) == days[3]
    assert result.recovery_time.ToDatetime(tzinfo=timezone.utc) == days[4]
    # Never recovered: duration runs to the end; returns carry period-end times.
    result = analytics.ComputeMaxDrawdown(an.ComputeMaxDrawdownRequest(
        series=returns_input([0.1, -0.2, 0.05], [ts(d) for d in days[1:4]])), timeout=10)
    assert result.max_drawdown == pytest.approx(-0.2, abs=1e-15)
    assert (result.peak_index, result.trough_index, result.recovery_index, result.duration_periods) == (1, 2, -1, 2)
    assert result.peak_time.ToDatetime(tzinfo=timezone.utc) == days[1]
    assert not result.HasField("recovery_time")
    # Never fell: all zero.
    result = analytics.ComputeMaxDrawdown(an.ComputeMaxDrawdownRequest(series=returns_input([0.01, 0.02])), timeout=10)
    assert (result.max_drawdown, result.peak_index, result.trough_index, result.recovery_index, result.duration_periods) == (0, 0, 0, 0, 0)


def test_time_and_money_weighted_returns_with_cash_flows(stubs):
    analytics, _ = stubs
    t0, t1, t2 = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 7, 1, tzinfo=timezone.utc), datetime(2025, 12, 31, tzinfo=timezone.utc)
    request = an.ComputePerformanceRequest(series=values_input(["1000", "1600", "1800"], [ts(t0), ts(t1), ts(t2)]),
                                           cash_flows=[an.CashFlow(time=ts(t1), amount="500")])
    result = analytics.ComputePerformance(request, timeout=10)
    # Sub-periods split at the contribution: 1100 / 1000 and 1800 / 1600.
    assert result.time_weighted_return == pytest.approx(1.1 * 1.125 - 1, rel=1e-12)
    a, b = (t1 - t0).days / 365, (t2 - t0).days / 365
    expected = brentq(lambda r: -1000 - 500 * (1 + r) ** -a + 1800 * (1 + r) ** -b, -0.9, 10, xtol=1e-15)
    assert result.money_weighted_return == pytest.approx(expected, rel=1e-9)
    assert "money_weighted_return" not in [u.statistic for u in result.undefined]
    # A withdrawal between observations belongs to the next one.
    result = analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=values_input(["1000", "900", "990"], [ts(t0), ts(t1), ts(t2)]),
        cash_flows=[an.CashFlow(time=ts(t0 + timedelta(days=30)), amount="-200")]), timeout=10)
    assert result.time_weighted_return == pytest.approx((1100 / 1000) * (990 / 900) - 1, rel=1e-12)
    # No rate in (−100 %, 10⁶]: tripling in a day.
    day = t0 + timedelta(days=1)
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=values_input(["100", "301"], [ts(t0), ts(day)]), cash_flows=[an.CashFlow(time=ts(day), amount="1")]), timeout=10),
        "money-weighted return has no solution")
    # Cash flows need times, and must fall inside the series.
    expect_status(INVALID, lambda: analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=returns_input([0.1, 0.2]), cash_flows=[an.CashFlow(time=ts(t1), amount="5")]), timeout=10), "cash_flows")
    expect_status(INVALID, lambda: analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=values_input(["1000", "1600", "1800"], [ts(t0), ts(t1), ts(t2)]),
        cash_flows=[an.CashFlow(time=ts(t0), amount="5")]), timeout=10), "cash_flows[0].time")
    expect_status(INVALID, lambda: analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=values_input(["1000", "1600", "1800"], [ts(t0), ts(t1), ts(t2)]),
        cash_flows=[an.CashFlow(time=ts(t1), amount="1.2.3")]), timeout=10), "cash_flows[0].amount")
    expect_status(INVALID, lambda: analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=values_input(["1000", "1600", "1800"], [ts(t0), ts(t1), ts(t2)]),
        cash_flows=[an.CashFlow(time=ts(t1), amount="1600")]), timeout=10), "not more than the flows")


def test_edge_cases_are_refused_or_documented(stubs):
    analytics, _ = stubs
    perf = lambda series, **kw: analytics.ComputePerformance(an.ComputePerformanceRequest(series=series, **kw), timeout=10)
    expect_status(INVALID, lambda: perf(None), "series is required")
    expect_status(INVALID, lambda: perf(returns_input([])), "series.returns.returns", "1 to")
    expect_status(INVALID, lambda: perf(values_input([])), "series.values.values", "2 to")
    expect_status(INVALID, lambda: perf(values_input(["100"])), "series.values.values")
    expect_status(INVALID, lambda: perf(values_input(["100", "abc"])), "series.values.values[1]")
    expect_status(INVALID, lambda: perf(values_input(["100", "0"])), "series.values.values[1]", "more than 0")
    expect_status(INVALID, lambda: perf(returns_input([0.1, float("nan")])), "series.returns.returns[1]")
    expect_status(INVALID, lambda: perf(returns_input([float("inf")])), "series.returns.returns[0]")
    expect_status(INVALID, lambda: perf(returns_input([-1.0])), "series.returns.returns[0]")
    expect_status(INVALID, lambda: perf(returns_input([0.1]), periods_per_year=-5), "periods_per_year")
    expect_status(INVALID, lambda: perf(returns_input([0.1]), periods_per_year=float("nan")), "periods_per_year")
    expect_status(INVALID, lambda: perf(returns_input([0.1]), risk_free_rate=float("inf")), "risk_free_rate")
    expect_status(INVALID, lambda: perf(returns_input([0.1, 0.2], [ts("2025-01-02T00:00:00")])), "series.returns.times")
    expect_status(INVALID, lambda: perf(values_input(["1", "2"], [ts("2025-01-02T00:00:00"), ts("2025-01-01T00:00:00")])),
                  "series.values.times[1]", "not after")
    expect_status(INVALID, lambda: analytics.ComputeAlphaBeta(an.ComputeAlphaBetaRequest(
        series=returns_input([0.1, 0.2, 0.3]), benchmark=returns_input([0.1, 0.2])), timeout=10), "benchmark", "must match")
    expect_status(INVALID, lambda: analytics.ComputeAlphaBeta(an.ComputeAlphaBetaRequest(
        series=returns_input([0.1, 0.2])), timeout=10), "benchmark is required")
    expect_status(INVALID, lambda: analytics.ComputeSharpe(an.ComputeSharpeRequest(
        series=returns_input([0.1, 0.2]), required_return=float("nan")), timeout=10), "required_return")

    # One point: total return and CAGR defined, the dispersion statistics NaN with reasons.
    one = perf(returns_input([0.05]))
    assert one.total_return == pytest.approx(0.05) and one.observations == 1
    assert math.isnan(one.annual_volatility)
    assert {"annual_volatility", "calmar"} <= {u.statistic for u in one.undefined}
    sharpe = analytics.ComputeSharpe(an.ComputeSharpeRequest(series=returns_input([0.05])), timeout=10)
    assert math.isnan(sharpe.sharpe) and math.isnan(sharpe.sortino)
    assert {u.statistic: u.reason for u in sharpe.undefined}["sharpe"] == "needs at least 2 returns"
    # Zero volatility: Sharpe NaN ("zero volatility"); no loss: Sortino NaN.
    flat = analytics.ComputeSharpe(an.ComputeSharpeRequest(series=returns_input([0.01] * 20)), timeout=10)
    assert math.isnan(flat.sharpe) and math.isnan(flat.sortino) and flat.downside_risk == 0
    reasons = {u.statistic: u.reason for u in flat.undefined}
    assert reasons["sharpe"] == "zero volatility" and "downside" in reasons["sortino"]
    # A flat benchmark: alpha, beta and R² NaN; tracking error still defined.
    rel = analytics.ComputeAlphaBeta(an.ComputeAlphaBetaRequest(series=returns_input([0.01, 0.03, -0.02]),
                                                                benchmark=returns_input([0.01, 0.01, 0.01])), timeout=10)
    assert math.isnan(rel.beta) and math.isnan(rel.alpha) and math.isnan(rel.r_squared)
    assert rel.tracking_error == pytest.approx(np.std([0, 0.02, -0.03], ddof=1) * math.sqrt(252), rel=1e-12)
    assert {"alpha", "beta", "r_squared"} == {u.statistic for u in rel.undefined}


def test_client_history_from_recorded_valuations(stubs):
    analytics, holdings = stubs
    client = "hist-" + uuid.uuid4().hex[:8]
    aapl = holdings.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker="AAPL", quantity="10", price="100",
                                                        trade_time=ts("2025-01-02T15:00:00")), timeout=10).position
    msft = holdings.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker="MSFT", quantity="5", price="200",
                                                        trade_time=ts("2025-01-02T15:00:00")), timeout=10).position

    def mark(position, price, when):
        holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=position.position_id, price=price,
                                                                   priced_at=ts(when)), timeout=10)

    # Never priced, a position counts at cost from its purchase: 1000 + 1000 at 2025-01-02T15:00.
    mark(aapl, "100", "2025-01-03T21:00:00")
    mark(msft, "200", "2025-01-03T21:00:00")   # same instant: one point, 2000
    mark(aapl, "110", "2025-01-06T21:00:00")   # 1100 + 1000 = 2100
    mark(msft, "190", "2025-01-07T21:00:00")   # 1100 + 950 = 2050
    history = lambda **kw: an.SeriesInput(history=an.ClientHistory(client_id=client, **kw))
    perf = analytics.ComputePerformance(an.ComputePerformanceRequest(series=history()), timeout=10)
    assert perf.observations == 3
    assert perf.total_return == pytest.approx(2050 / 2000 - 1, rel=1e-12)
    drawdown = analytics.ComputeMaxDrawdown(an.ComputeMaxDrawdownRequest(series=history()), timeout=10)
    assert drawdown.max_drawdown == pytest.approx(2050 / 2100 - 1, rel=1e-12)
    assert drawdown.peak_time.ToDatetime(tzinfo=timezone.utc) == datetime(2025, 1, 6, 21, tzinfo=timezone.utc)
    # The period bounds the points (at or after start, at or before end).
    perf = analytics.ComputePerformance(an.ComputePerformanceRequest(series=history(start_time=ts("2025-01-04T00:00:00"))), timeout=10)
    assert perf.observations == 1 and perf.total_return == pytest.approx(2050 / 2100 - 1, rel=1e-12)
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: analytics.ComputePerformance(an.ComputePerformanceRequest(
        series=history(end_time=ts("2025-01-03T00:00:00"))), timeout=10), "1 valuation point")
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: analytics.ComputeSharpe(an.ComputeSharpeRequest(
        series=an.SeriesInput(history=an.ClientHistory(client_id="nobody-" + uuid.uuid4().hex[:6]))), timeout=10), "0 valuation points")
    expect_status(INVALID, lambda: analytics.ComputeSharpe(an.ComputeSharpeRequest(
        series=an.SeriesInput(history=an.ClientHistory(client_id=""))), timeout=10), "series.history.client_id")
    expect_status(INVALID, lambda: analytics.ComputeSharpe(an.ComputeSharpeRequest(series=history(
        start_time=ts("2025-02-01T00:00:00"), end_time=ts("2025-01-01T00:00:00")))), "start_time")
    # A history benchmark against explicit returns of the same length.
    rel = analytics.ComputeAlphaBeta(an.ComputeAlphaBetaRequest(series=history(), benchmark=returns_input([0.01, 0.04, -0.01])), timeout=10)
    assert rel.beta == pytest.approx(empyrical.beta(np.array([0.0, 0.05, 2050 / 2100 - 1]), np.array([0.01, 0.04, -0.01])), rel=1e-9)
