"""AgentService end to end (grpcio): AssessRisk against empyrical-reloaded and the normal
closed forms on random series and on a recorded valuation history; DetectAnomalies against an
independent model of the contract's rules, with planted anomalies and a split that must not
count as a move; RecommendRebalancing against EvaluateRebalancing on random portfolios; bad
input for each."""
import math
import random
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import empyrical
import grpc
import numpy as np
import pytest
from conftest import holdings_channel
from scipy.stats import norm

import samples
from test_event_backbone import expect_status

M = samples.holdings_modules()
ag = M["agent_pb2"]
an = M["analytics_pb2"]
pb = M["holdings_pb2"]
rb = M["rebalancing_pb2"]
ev = M["events_pb2"]
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOW = datetime.now(timezone.utc)


def ts(when):
    from google.protobuf import timestamp_pb2
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(when)
    return value


def unique(prefix):
    return prefix + uuid.uuid4().hex[:6].upper()


class Stubs:
    def __init__(self, address):
        channel = holdings_channel(address)
        self.agent = M["agent_pb2_grpc"].AgentServiceStub(channel)
        self.holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
        self.rebalancing = M["rebalancing_pb2_grpc"].RebalancingServiceStub(channel)

    def buy(self, client, ticker, quantity, price, when=None):
        request = pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity=str(quantity), price=str(price))
        if when:
            request.trade_time.CopyFrom(ts(when))
        return self.holdings.OpenPosition(request, timeout=10)

    def mark(self, position_id, price, when):
        return self.holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(
            position_id=position_id, price=str(price), priced_at=ts(when)), timeout=10)


@pytest.fixture(scope="module")
def stubs(server):
    return Stubs(server[0])


def close(ours, reference, what):
    reference = float(reference)
    if math.isnan(reference):
        assert math.isnan(ours), f"{what}: {ours} vs NaN"
        return
    assert abs(ours - reference) <= 1e-9 * max(abs(reference), 1e-3), f"{what}: {ours!r} vs reference {reference!r}"


def parametric(returns, cutoff):
    """The normal closed forms, from scipy: VaR = μ + σ Φ⁻¹(α), ES = μ − σ φ(Φ⁻¹(α)) / α."""
    mu, sigma = float(np.mean(returns)), float(np.std(returns, ddof=1))
    z = norm.ppf(cutoff)
    return mu + sigma * z, mu - sigma * norm.pdf(z) / cutoff


def loss_amount(tail, horizon, value):
    if tail >= 0 or value <= 0:
        return Decimal(0)
    return Decimal(repr(min(value, -tail * math.sqrt(horizon) * value))).quantize(Decimal("0.01"))


def returns_input(returns):
    return an.SeriesInput(returns=an.ReturnSeries(returns=list(returns)))


# AssessRisk --------------------------------------------------------------------------------

def test_assess_risk_matches_empyrical_and_the_normal_closed_forms_on_random_series(stubs):
    client = "risk-" + uuid.uuid4().hex[:8]
    a, b = unique("RA"), unique("RB")
    stubs.buy(client, a, 30, 100)
    stubs.buy(client, b, 10, 70)  # 3000 + 700 at cost: weights 0.8108…, 0.1891…
    value = 3700.0
    rng = random.Random(15)
    for case in range(40):
        n = rng.choice([2, 3, 7, 20, 21, 30, 100, 252, 999, 2520])
        sigma = rng.choice([0.001, 0.01, 0.03, 0.2])
        returns = [max(-0.99, rng.gauss(0.0003, sigma)) for _ in range(n)]
        benchmark = [max(-0.99, 0.6 * r + rng.gauss(0, sigma / 2)) for r in returns]
        confidence = rng.choice([0.95, 0.99, 0.9, 0.975, round(rng.uniform(0.5, 0.999), 6)])
        horizon = rng.choice([1, 5, 10, 21])
        periods = rng.choice([252, 52, 12])
        answer = stubs.agent.AssessRisk(ag.AssessRiskRequest(
            client_id=client, confidence=confidence, horizon_days=horizon, series=returns_input(returns),
            benchmark=returns_input(benchmark), periods_per_year=periods), timeout=10)
        cutoff = 1 - confidence
        what = f"case {case} (n {n}, confidence {confidence})"
        close(answer.historical_var_return, empyrical.value_at_risk(np.array(returns), cutoff), what + " historical VaR")
        close(answer.historical_es_return, empyrical.conditional_value_at_risk(np.array(returns), cutoff), what + " historical ES")
        var, es = parametric(returns, cutoff)
        close(answer.parametric_var_return, var, what + " parametric VaR")
        close(answer.parametric_es_return, es, what + " parametric ES")
        close(answer.volatility, empyrical.annual_volatility(np.array(returns), annualization=periods), what + " volatility")
        close(answer.beta, empyrical.beta(np.array(returns), np.array(benchmark)), what + " beta")
        assert answer.observations == n and Decimal(answer.market_value) == 3700
        for field, tail in (("value_at_risk", answer.historical_var_return), ("expected_shortfall", answer.historical_es_return),
                            ("parametric_value_at_risk", answer.parametric_var_return),
                            ("parametric_expected_shortfall", answer.parametric_es_return)):
            assert abs(Decimal(getattr(answer, field)) - loss_amount(tail, horizon, value)) <= Decimal("0.01"), (what, field)
        assert answer.undefined == []
        # Concentration from the book, whatever the series.
        close(answer.concentration, (3000 / 3700) ** 2 + (700 / 3700) ** 2, what + " HHI")
        assert Decimal(answer.largest_weight) == (Decimal(3000) / 3700).quantize(Decimal("1E-10"))
        assert answer.risk_level == ag.RISK_SEVERE  # 81 % in one position
        assert any(a in reason and "severe" in reason for reason in answer.reasons)


def test_assess_risk_reads_the_valuation_history_and_grades_the_level(stubs):
    client = "riskh-" + uuid.uuid4().hex[:8]
    ticker = unique("RH")
    # The buy is the first point of the history (valued at cost), then the marks.
    position = stubs.buy(client, ticker, 10, 100, NOW - timedelta(hours=2)).position.position_id
    rng = random.Random(7)
    price, prices = Decimal(100), [Decimal(100)]
    for i in range(59):
        price = (price * Decimal(repr(math.exp(rng.gauss(0, 0.02))))).quantize(Decimal("0.01"))
        prices.append(price)
        stubs.mark(position, price, NOW - timedelta(minutes=60 - i))
    answer = stubs.agent.AssessRisk(ag.AssessRiskRequest(client_id=client), timeout=10)
    values = [float(10 * p) for p in prices]
    returns = np.array([values[i] / values[i - 1] - 1 for i in range(1, len(values))])
    assert answer.observations == len(returns)
    close(answer.historical_var_return, empyrical.value_at_risk(returns, 1 - 0.95), "history VaR")
    close(answer.historical_es_return, empyrical.conditional_value_at_risk(returns, 1 - 0.95), "history ES")
    close(answer.volatility, empyrical.annual_volatility(returns), "history volatility")
    assert math.isnan(answer.beta) and [u.statistic for u in answer.undefined] == ["beta"]
    assert Decimal(answer.market_value) == 10 * prices[-1]
    assert answer.concentration == 1 and answer.largest_weight == "1"
    assert answer.risk_level == ag.RISK_SEVERE and ticker in answer.reasons[0]
    assert Decimal(answer.value_at_risk) == loss_amount(answer.historical_var_return, 1, float(10 * prices[-1])) > 0


def test_assess_risk_levels_follow_volatility_when_the_book_is_spread(stubs):
    client = "riskl-" + uuid.uuid4().hex[:8]
    for i in range(5):
        stubs.buy(client, unique(f"L{i}"), 10, 100)  # five equal weights: 20 % each, concentration low
    rng = random.Random(3)
    for sigma, level in ((0.002, ag.RISK_LOW), (0.009, ag.RISK_MODERATE), (0.017, ag.RISK_HIGH), (0.04, ag.RISK_SEVERE)):
        returns = [rng.gauss(0, sigma) for _ in range(500)]
        answer = stubs.agent.AssessRisk(ag.AssessRiskRequest(client_id=client, series=returns_input(returns)), timeout=10)
        volatility = empyrical.annual_volatility(np.array(returns))
        expected = ag.RISK_LOW if volatility < 0.10 else ag.RISK_MODERATE if volatility <= 0.20 else \
            ag.RISK_HIGH if volatility <= 0.35 else ag.RISK_SEVERE
        assert answer.risk_level == expected == level, (sigma, volatility)
        assert "volatility" in answer.reasons[0]
        close(answer.concentration, 0.2, "equal weights HHI")


def test_assess_risk_refuses_bad_input_naming_the_field(stubs):
    client = "riskb-" + uuid.uuid4().hex[:8]
    good = returns_input([0.01, -0.02, 0.005])
    agent = stubs.agent
    for request, needle in (
        (ag.AssessRiskRequest(series=good), "client_id"),
        (ag.AssessRiskRequest(client_id=client, confidence=1, series=good), "confidence"),
        (ag.AssessRiskRequest(client_id=client, confidence=-0.5, series=good), "confidence"),
        (ag.AssessRiskRequest(client_id=client, confidence=float("nan"), series=good), "confidence"),
        (ag.AssessRiskRequest(client_id=client, horizon_days=253, series=good), "horizon_days"),
        (ag.AssessRiskRequest(client_id=client, horizon_days=-1, series=good), "horizon_days"),
        (ag.AssessRiskRequest(client_id=client, periods_per_year=-1, series=good), "periods_per_year"),
        (ag.AssessRiskRequest(client_id=client, series=returns_input([0.01])), "series"),
        (ag.AssessRiskRequest(client_id=client, series=returns_input([0.01, float("inf")])), "series.returns"),
        (ag.AssessRiskRequest(client_id=client, series=good, benchmark=returns_input([0.01, 0.02])), "benchmark"),
        (ag.AssessRiskRequest(client_id=client, series=an.SeriesInput(history=an.ClientHistory(client_id="someone-else"))),
         "series.history.client_id"),
    ):
        expect_status(INVALID, lambda: agent.AssessRisk(request, timeout=10), needle)
    # No valuation history: nothing to assess.
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: agent.AssessRisk(ag.AssessRiskRequest(client_id=client), timeout=10),
                  client)


# DetectAnomalies ---------------------------------------------------------------------------

class AnomalyModel:
    """The contract's rules (agent.proto, DetectAnomaliesRequest), written again from the
    observations the test made, not from the events."""

    def __init__(self, threshold=3.0, lookback=30):
        self.threshold, self.lookback = threshold, lookback
        self.last, self.moves, self.seed, self.variance = None, [], [], None
        self.sizes = []
        self.flagged = set()  # (event id, kind)

    @staticmethod
    def robust(window, x):
        median = float(np.median(window))
        scale = 1.4826 * float(np.median(np.abs(np.array(window) - median)))
        return None if scale <= 0 else (x - median) / scale

    def price(self, event_id, price, trade):
        price = float(price)
        if self.last is None:
            self.last = price
            return
        move = math.log(price / self.last)
        self.last = price
        if len(self.moves) >= 10:
            z = self.robust(self.moves, move)
            ewma = move / math.sqrt(self.variance) if self.variance else None
            if z is not None and abs(z) > self.threshold and (trade or (ewma is not None and abs(ewma) > self.threshold)):
                self.flagged.add((event_id, "TRADE_PRICE" if trade else "VALUATION_JUMP"))
        if self.variance is None:
            self.seed.append(move)
            if len(self.seed) == 10:
                self.variance = sum(m * m for m in self.seed) / 10
        else:
            self.variance = 0.94 * self.variance + 0.06 * move * move
        self.moves = (self.moves + [move])[-self.lookback:]

    def trade(self, event_id, quantity, price):
        size = math.log(float(Decimal(quantity) * Decimal(price)))
        if len(self.sizes) >= 10:
            z = self.robust(self.sizes, size)
            if z is not None and abs(z) > self.threshold:
                self.flagged.add((event_id, "TRADE_SIZE"))
        self.sizes = (self.sizes + [size])[-self.lookback:]
        self.price(event_id, price, trade=True)

    def split(self, to, frm):
        self.last = self.last * frm / to


def test_detect_anomalies_finds_the_planted_ones_and_agrees_with_an_independent_model(stubs):
    client = "anom-" + uuid.uuid4().hex[:8]
    ticker = unique("AN")
    rng = random.Random(11)
    model = AnomalyModel()
    price = Decimal(100)
    opened = stubs.buy(client, ticker, 10, price)
    position = opened.position.position_id
    model.trade(opened.event_id, "10", price)
    planted = {}
    steps = 90
    for i in range(steps):
        when = NOW - timedelta(minutes=steps - i)
        if i == 40:  # a 2-for-1 split: prices halve, which is no move
            stubs.holdings.ApplyCorporateAction(pb.ApplyCorporateActionRequest(
                ticker=ticker, type=ev.SPLIT, split_to="2", split_from="1", request_id=uuid.uuid4().hex), timeout=30)
            model.split(2, 1)
            price = (price / 2).quantize(Decimal("0.01"))
        factor = 1.3 if i == 50 else math.exp(rng.gauss(0, 0.01))
        price = (price * Decimal(repr(factor))).quantize(Decimal("0.01"))
        valued = stubs.mark(position, price, when)
        model.price(valued.event_id, price, trade=False)
        if i == 50:
            planted[valued.event_id] = "VALUATION_JUMP"
        if i % 4 == 0 or i in (60, 70):
            quantity = 2000 if i == 60 else rng.randint(8, 12)
            trade_price = (price * Decimal("1.5")).quantize(Decimal("0.01")) if i == 70 else price
            bought = stubs.buy(client, ticker, quantity, trade_price)
            model.trade(bought.event_id, str(quantity), trade_price)
            if i == 60:
                planted[bought.event_id] = "TRADE_SIZE"
            if i == 70:
                planted[bought.event_id] = "TRADE_PRICE"
                price = trade_price  # the walk goes on from the trade
    answer = stubs.agent.DetectAnomalies(ag.DetectAnomaliesRequest(client_id=client), timeout=10)
    found = {(a.event_id, ag.AnomalyKind.Name(a.kind)) for a in answer.anomalies}
    assert len(found) == len(answer.anomalies)
    for planted_one in planted.items():
        assert planted_one in found, (planted_one, found)
    assert found == model.flagged
    assert answer.examined > steps
    times = [(a.occurred_at.seconds, a.occurred_at.nanos, a.event_id) for a in answer.anomalies]
    assert times == sorted(times, reverse=True)
    jump = next(a for a in answer.anomalies if a.kind == ag.VALUATION_JUMP and a.event_id in planted)
    assert jump.ticker == ticker and jump.position_id == position and jump.z_score > 3 and jump.ewma_z_score > 3
    assert "robust z" in jump.reason and Decimal(jump.expected) > 0 and jump.event_type == ev.POSITION_VALUED
    size = next(a for a in answer.anomalies if a.kind == ag.TRADE_SIZE)
    assert size.event_type == ev.LOT_ADDED and Decimal(size.observed) > 2000 * 30
    # A stricter threshold flags a subset.
    strict = stubs.agent.DetectAnomalies(ag.DetectAnomaliesRequest(client_id=client, z_threshold=8), timeout=10)
    assert {(a.event_id, ag.AnomalyKind.Name(a.kind)) for a in strict.anomalies} < found


def test_detect_anomalies_refuses_bad_input(stubs):
    agent = stubs.agent
    for request, needle in ((ag.DetectAnomaliesRequest(), "client_id"),
                            (ag.DetectAnomaliesRequest(client_id="c", z_threshold=0.5), "z_threshold"),
                            (ag.DetectAnomaliesRequest(client_id="c", z_threshold=float("nan")), "z_threshold"),
                            (ag.DetectAnomaliesRequest(client_id="c", lookback=9), "lookback"),
                            (ag.DetectAnomaliesRequest(client_id="c", lookback=10_001), "lookback")):
        expect_status(INVALID, lambda: agent.DetectAnomalies(request, timeout=10), needle)
    empty = agent.DetectAnomalies(ag.DetectAnomaliesRequest(client_id="nobody-" + uuid.uuid4().hex[:6]), timeout=10)
    assert list(empty.anomalies) == [] and empty.examined == 0


# RecommendRebalancing ----------------------------------------------------------------------

def test_recommend_rebalancing_agrees_with_evaluate_rebalancing_and_records_nothing(stubs):
    rng = random.Random(21)
    for case in range(12):
        client = f"rec{case}-" + uuid.uuid4().hex[:6]
        tickers = [unique(f"R{i}") for i in range(rng.randint(1, 4))]
        for ticker in tickers:
            opened = stubs.buy(client, ticker, rng.randint(1, 50), rng.randint(10, 300))
            stubs.mark(opened.position.position_id, rng.randint(10, 300), NOW)
        targets = {} if case % 3 == 0 else {t: str(Decimal(1) / len(tickers) + Decimal(rng.choice([-5, 0, 5])) / 1000)[:12]
                                            for t in tickers}
        if targets and sum(Decimal(v) for v in targets.values()) > 1:
            targets = {t: str((Decimal(1) / len(tickers)).quantize(Decimal("1E-6"), rounding="ROUND_DOWN")) for t in tickers}
        threshold = rng.choice(["", "0.01", "0.05", "0.2"])
        answer = stubs.agent.RecommendRebalancing(ag.RecommendRebalancingRequest(
            client_id=client, target_weights=targets, drift_threshold=threshold), timeout=10)
        used = dict(answer.target_weights)
        if not targets:
            equal = (Decimal(1) / len(tickers)).quantize(Decimal("1E-10"), rounding="ROUND_DOWN")
            assert used == {t: str(equal.normalize()) if equal != 1 else "1" for t in tickers}
        else:
            assert {t: Decimal(v) for t, v in used.items()} == {t: Decimal(v) for t, v in targets.items()}
        band = threshold or "0.05"
        evaluation = stubs.rebalancing.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
            client_id=client, target_weights=used, strategy=ev.THRESHOLD, band=ev.DriftBand(absolute=band)), timeout=10)
        assert answer.recommend == evaluation.should_rebalance, case
        assert list(answer.drifts) == list(evaluation.drifts) and list(answer.reasons) == list(evaluation.reasons)
        assert answer.portfolio_value == evaluation.portfolio_value and answer.strategy == ev.THRESHOLD
        largest = max(abs(float(Decimal(d.drift))) for d in answer.drifts)
        b = float(band)
        expected = min(1, 0.5 + 0.5 * (largest - b) / b) if answer.recommend else min(1, max(0.5, 0.5 + 0.5 * (b - largest) / b))
        assert abs(answer.confidence - expected) < 1e-12 and 0.5 <= answer.confidence <= 1
        # RecommendRebalancing recorded nothing; EvaluateRebalancing recorded its trigger only.
        triggered = stubs.holdings.ListEvents(pb.ListEventsRequest(client_id=client, event_types=[ev.REBALANCING_TRIGGERED],
                                                                   page_size=10), timeout=10).events
        assert len(triggered) == (1 if evaluation.should_rebalance else 0)


def test_recommend_rebalancing_refuses_bad_input(stubs):
    agent = stubs.agent
    client = "recb-" + uuid.uuid4().hex[:6]
    for request, needle in ((ag.RecommendRebalancingRequest(), "client_id"),
                            (ag.RecommendRebalancingRequest(client_id=client, drift_threshold="0"), "drift_threshold"),
                            (ag.RecommendRebalancingRequest(client_id=client, drift_threshold="1.5"), "drift_threshold"),
                            (ag.RecommendRebalancingRequest(client_id=client, drift_threshold="abc"), "drift_threshold"),
                            (ag.RecommendRebalancingRequest(client_id=client, target_weights={"AAPL": "0.7", "MSFT": "0.7"}),
                             "target_weights")):
        expect_status(INVALID, lambda: agent.RecommendRebalancing(request, timeout=10), needle)
    expect_status(grpc.StatusCode.FAILED_PRECONDITION,
                  lambda: agent.RecommendRebalancing(ag.RecommendRebalancingRequest(client_id=client), timeout=10), "no open position")
