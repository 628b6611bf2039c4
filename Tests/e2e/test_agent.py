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


# The DQN policy -----------------------------------------------------------------------------

def synthetic_prices(seed, tickers=3, periods=120):
    rng = random.Random(seed)
    histories = []
    for i in range(tickers):
        price, prices = Decimal(100), []
        for _ in range(periods):
            prices.append(price)
            price = (price * Decimal(repr(math.exp(rng.gauss(0.0003 * (i + 1), 0.01 * (i + 1)))))).quantize(Decimal("0.01"))
        histories.append(prices)
    return histories


def histories_of(tickers, prices):
    return [ag.PriceHistory(ticker=t, prices=[str(p) for p in row]) for t, row in zip(tickers, prices)]


def train(agent, request, timeout=120):
    messages = list(agent.TrainPolicy(request, timeout=timeout))
    assert messages and messages[-1].HasField("result")
    assert all(not m.HasField("result") for m in messages[:-1])
    return messages


def baseline_figures(prices, targets, cost_rate, window=10):
    """The three baselines over the test segment, written again from agent.proto's definitions."""
    n, periods = len(prices), len(prices[0])
    returns = [[0.0] * n] + [[float(prices[i][t]) / float(prices[i][t - 1]) - 1 for i in range(n)] for t in range(1, periods)]
    split = window + int((periods - window) * 0.7)

    def run(decide):
        weights, nets, turnover = list(targets), [], 0.0
        for t in range(split, periods - 1):
            new = decide(weights)
            traded = sum(abs(a - b) for a, b in zip(new, weights))
            gross = sum(w * r for w, r in zip(new, returns[t + 1]))
            nets.append(gross - cost_rate * traded)
            turnover += traded
            weights = [w * (1 + r) / (1 + gross) for w, r in zip(new, returns[t + 1])]
        wealth = np.cumprod([1 + r for r in nets])
        peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
        drawdown = min(0.0, float(np.min(wealth / peak - 1)))
        sharpe = float(np.mean(nets) / np.std(nets, ddof=1) * math.sqrt(252))
        return float(wealth[-1] - 1), sharpe, drawdown, turnover

    equal = [1 / n] * n
    return {
        "buy_and_hold": run(lambda w: w),
        "equal_weight_rebalanced": run(lambda w: equal),
        "target_threshold_5pct": run(lambda w: list(targets) if any(abs(a - b) > 0.05 for a, b in zip(w, targets)) else w),
    }, split


def test_train_policy_streams_progress_records_and_answers_the_same_inputs_with_the_same_policy(stubs):
    tickers = [unique("PA"), unique("PB"), unique("PC")]
    prices = synthetic_prices(1)
    request = ag.TrainPolicyRequest(histories=histories_of(tickers, prices), episodes=6, seed=11, request_id=uuid.uuid4().hex)
    messages = train(stubs.agent, request)
    result = messages[-1].result
    episodes = [m.episode for m in messages[:-1]]
    assert episodes == sorted(episodes) and episodes[-1] == 6 and all(m.episodes == 6 for m in messages)
    assert result.policy_id.startswith("pol-") and len(result.policy_id) == 28 and result.event_id and not result.replayed
    assert len(result.episode_rewards) == 6 and result.steps == 6 * 77  # 120 periods: 77 to train on after the window
    assert (result.train_periods, result.test_periods) == (77, 32)
    data = "".join(t + "\n" + ",".join(str(p.normalize()) if p != p.to_integral() else str(int(p)) for p in row) + "\n"
                   for t, row in zip(tickers, prices))
    import hashlib
    assert result.data_hash == hashlib.sha256(data.encode()).hexdigest()
    # The baselines, recomputed here from the contract's definitions.
    names = [e.strategy for e in result.evaluation]
    assert names == ["policy", "buy_and_hold", "equal_weight_rebalanced", "target_threshold_5pct"]
    expected, _ = baseline_figures(prices, [1 / 3] * 3, 0.001)
    for e in result.evaluation[1:]:
        total, sharpe, drawdown, turnover = expected[e.strategy]
        close(e.total_return, total, e.strategy + " return")
        close(e.sharpe, sharpe, e.strategy + " Sharpe")
        close(e.max_drawdown, drawdown, e.strategy + " drawdown")
        assert abs(e.turnover - turnover) < 1e-9, e.strategy
    policy = result.evaluation[0]
    assert sum(policy.actions) == 32 and len(policy.actions) == 4
    assert result.promoted == all(policy.sharpe > e.sharpe for e in result.evaluation[1:])
    # The same inputs: the same policy, answered from the record without training again.
    again = train(stubs.agent, ag.TrainPolicyRequest(histories=histories_of(tickers, prices), episodes=6, seed=11))
    assert len(again) == 1 and again[0].result.replayed
    assert again[0].result.policy_id == result.policy_id and list(again[0].result.episode_rewards) == list(result.episode_rewards)
    # Another seed: another policy.
    other = train(stubs.agent, ag.TrainPolicyRequest(histories=histories_of(tickers, prices), episodes=6, seed=12))[-1].result
    assert other.policy_id != result.policy_id and list(other.episode_rewards) != list(result.episode_rewards)


def client_with_prices(stubs, tickers, prices, quantities):
    """A client holding `quantities` of each ticker, valued at the last 11 prices of each."""
    client = "pol-" + uuid.uuid4().hex[:8]
    for ticker, quantity, row in zip(tickers, quantities, prices):
        stubs.buy(client, ticker, quantity, row[-12], NOW - timedelta(hours=3))
    for k in range(11, 0, -1):
        quotes = [M["common_pb2"].PriceQuote(ticker=t, price=str(row[-k]), priced_at=ts(NOW - timedelta(minutes=k)))
                  for t, row in zip(tickers, prices)]
        stubs.holdings.PublishPrices(pb.PublishPricesRequest(prices=quotes), timeout=10)
    return client


def test_recommend_action_and_tactical_rebalancing_use_a_trained_policy(stubs):
    tickers = [unique("QA"), unique("QB"), unique("QC")]
    prices = synthetic_prices(2)
    result = train(stubs.agent, ag.TrainPolicyRequest(histories=histories_of(tickers, prices), episodes=5, seed=3))[-1].result
    client = client_with_prices(stubs, tickers, prices, [10, 20, 30])
    answer = stubs.agent.RecommendAction(ag.RecommendActionRequest(client_id=client, policy_id=result.policy_id), timeout=10)
    q = [v.q_value for v in answer.q_values]
    assert [v.action for v in answer.q_values] == [ag.HOLD, ag.REBALANCE_TO_TARGET, ag.INCREASE_RISK, ag.DECREASE_RISK]
    assert answer.action == answer.q_values[int(np.argmax(q))].action
    # The state, recomputed: weights, each ticker's last 10 returns in percent, their population std.
    values = [Decimal(qty) * row[-1] for qty, row in zip([10, 20, 30], prices)]
    weights = [float(v / sum(values)) for v in values]
    assert len(answer.state) == 36
    for i, w in enumerate(weights):
        assert abs(answer.state[i] - w) < 1e-10 and answer.state[i] == float(Decimal(answer.weights[tickers[i]]))
    for i, row in enumerate(prices):
        rets = [100 * (float(row[-k]) / float(row[-k - 1]) - 1) for k in range(10, 0, -1)]
        assert np.allclose(answer.state[3 + 10 * i: 13 + 10 * i], rets, rtol=1e-12, atol=1e-12)
        assert abs(answer.state[33 + i] - float(np.std(np.array(rets) / 100)) * 100) < 1e-9
    proposed = [float(Decimal(answer.proposed_weights[t])) for t in tickers]
    if answer.action == ag.HOLD:
        assert np.allclose(proposed, weights, atol=1e-9)
    elif answer.action == ag.REBALANCE_TO_TARGET:
        assert np.allclose(proposed, [1 / 3] * 3, atol=1e-9)
    else:
        vols = answer.state[33:36]
        k = int(np.argmax(vols)) if answer.action == ag.INCREASE_RISK else int(np.argmin(vols))
        assert np.allclose(proposed, [0.9 * w + (0.1 if i == k else 0) for i, w in enumerate(weights)], atol=1e-9)
    # TACTICAL rebalancing asks the same policy.
    name = ag.PolicyAction.Name(answer.action)
    evaluation = stubs.rebalancing.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
        client_id=client, target_weights={t: "0.3" for t in tickers}, strategy=ev.TACTICAL, band=ev.DriftBand(absolute="0.05"),
        signal=rb.TacticalSignal(policy_id=result.policy_id)), timeout=10)
    assert f"policy {result.policy_id} chose {name}" in evaluation.reasons[0]
    if answer.action == ag.HOLD:
        assert not evaluation.should_rebalance
    # RecommendRebalancing with the policy named: the same decision, nothing recorded.
    triggers = len(events_of(stubs, client, ev.REBALANCING_TRIGGERED))
    recommended = stubs.agent.RecommendRebalancing(ag.RecommendRebalancingRequest(
        client_id=client, target_weights={t: "0.3" for t in tickers}, drift_threshold="0.05", policy_id=result.policy_id), timeout=10)
    assert recommended.strategy == ev.TACTICAL and recommended.recommend == evaluation.should_rebalance
    assert list(recommended.drifts) == list(evaluation.drifts) and list(recommended.reasons) == list(evaluation.reasons)
    assert dict(recommended.target_weights) == dict(evaluation.effective_targets)
    assert len(events_of(stubs, client, ev.REBALANCING_TRIGGERED)) == triggers
    # Recent prices in the request stand in for recorded ones.
    stranger = "pol-s-" + uuid.uuid4().hex[:6]
    stubs.buy(stranger, tickers[0], 5, 100)
    given = [ag.PriceHistory(ticker=t, prices=[str(p) for p in row[-11:]]) for t, row in zip(tickers, prices)]
    same = stubs.agent.RecommendAction(ag.RecommendActionRequest(client_id=stranger, policy_id=result.policy_id, recent_prices=given),
                                       timeout=10)
    assert list(same.state[3:]) == list(answer.state[3:]) and same.weights[tickers[0]] == "1"
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: stubs.agent.RecommendAction(
        ag.RecommendActionRequest(client_id=stranger, policy_id=result.policy_id), timeout=10), "recent_prices")
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: stubs.agent.RecommendAction(
        ag.RecommendActionRequest(client_id=client, policy_id="pol-000000000000000000000000"), timeout=10), "not found")
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: stubs.rebalancing.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
        client_id=client, target_weights={tickers[0]: "1"}, strategy=ev.TACTICAL, band=ev.DriftBand(absolute="0.05"),
        signal=rb.TacticalSignal(policy_id="pol-unknown")), timeout=10), "pol-unknown")
    expect_status(INVALID, lambda: stubs.agent.RecommendAction(ag.RecommendActionRequest(
        client_id=client, policy_id=result.policy_id, recent_prices=[ag.PriceHistory(ticker=tickers[0], prices=["1"] * 10)]),
        timeout=10), "recent_prices[0].prices")


def test_a_warm_start_is_compared_with_its_parent(stubs):
    tickers = [unique("WA"), unique("WB")]
    prices = synthetic_prices(5, tickers=2)
    parent = train(stubs.agent, ag.TrainPolicyRequest(histories=histories_of(tickers, prices), episodes=4, seed=1))[-1].result
    child = train(stubs.agent, ag.TrainPolicyRequest(histories=histories_of(tickers, prices), episodes=4, seed=1,
                                                     warm_start_policy_id=parent.policy_id))[-1].result
    assert child.policy_id != parent.policy_id
    names = [e.strategy for e in child.evaluation]
    assert names == ["policy", "buy_and_hold", "equal_weight_rebalanced", "target_threshold_5pct", "parent"]
    parent_figures = child.evaluation[-1]
    assert parent_figures.total_return == parent.evaluation[0].total_return  # the parent, evaluated again: the same figures
    policy = child.evaluation[0]
    assert child.promoted == all(policy.sharpe > e.sharpe for e in child.evaluation[1:])
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: train(stubs.agent, ag.TrainPolicyRequest(
        histories=histories_of(list(reversed(tickers)), prices), episodes=1, seed=1, warm_start_policy_id=parent.policy_id)),
        "same tickers")


def test_train_policy_refuses_bad_input_and_non_admins(stubs, server):
    tickers = [unique("BA"), unique("BB")]
    prices = synthetic_prices(3, tickers=2, periods=40)
    good = histories_of(tickers, prices)
    short = [ag.PriceHistory(ticker=tickers[0], prices=["1"] * 40), ag.PriceHistory(ticker=tickers[1], prices=["1"] * 39)]
    cases = (
        (ag.TrainPolicyRequest(episodes=1), "histories"),
        (ag.TrainPolicyRequest(histories=short, episodes=1), "histories[1].prices"),
        (ag.TrainPolicyRequest(histories=[ag.PriceHistory(ticker=tickers[0], prices=["1"] * 29)], episodes=1), "histories[0].prices"),
        (ag.TrainPolicyRequest(histories=[ag.PriceHistory(ticker=tickers[0], prices=["1"] * 39 + ["-1"])], episodes=1),
         "histories[0].prices[39]"),
        (ag.TrainPolicyRequest(histories=good + [good[0]], episodes=1), "histories[2].ticker"),
        (ag.TrainPolicyRequest(histories=[ag.PriceHistory(ticker="bad ticker", prices=["1"] * 40)], episodes=1), "histories[0].ticker"),
        (ag.TrainPolicyRequest(histories=good, episodes=0), "episodes"),
        (ag.TrainPolicyRequest(histories=good, episodes=10_001), "episodes"),
        (ag.TrainPolicyRequest(histories=good, episodes=1, learning_rate=-0.1), "learning_rate"),
        (ag.TrainPolicyRequest(histories=good, episodes=1, learning_rate=float("nan")), "learning_rate"),
        (ag.TrainPolicyRequest(histories=good, episodes=1, discount=1), "discount"),
        (ag.TrainPolicyRequest(histories=good, episodes=1, risk_penalty=101), "risk_penalty"),
        (ag.TrainPolicyRequest(histories=good, episodes=1, cost_bps=1001), "cost_bps"),
        (ag.TrainPolicyRequest(histories=good, episodes=1, target_weights={tickers[0]: "0.5"}), "target_weights"),
        (ag.TrainPolicyRequest(histories=good, episodes=1, target_weights={tickers[0]: "0.5", "ZZZ": "0.5"}), "target_weights[ZZZ]"),
    )
    for request, needle in cases:
        expect_status(INVALID, lambda: train(stubs.agent, request), needle)
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: train(stubs.agent, ag.TrainPolicyRequest(
        histories=good, episodes=1, warm_start_policy_id="pol-none")), "pol-none")
    from conftest import token
    reader = M["agent_pb2_grpc"].AgentServiceStub(holdings_channel(server[0], token("clients:read:someone", subject="reader")))
    expect_status(grpc.StatusCode.PERMISSION_DENIED, lambda: train(reader, ag.TrainPolicyRequest(histories=good, episodes=1)), "admin")


def test_training_stops_at_the_deadline_and_runs_one_at_a_time(stubs):
    import threading
    tickers = [unique(f"D{i}") for i in range(20)]
    prices = synthetic_prices(4, tickers=20, periods=2000)
    long_request = ag.TrainPolicyRequest(histories=histories_of(tickers, prices), episodes=10_000, seed=1)
    outcome = {}

    def long_training():
        try:
            list(stubs.agent.TrainPolicy(long_request, timeout=4))
        except grpc.RpcError as error:
            outcome["code"] = error.code()

    runner = threading.Thread(target=long_training)
    runner.start()
    import time
    time.sleep(1.5)
    small = ag.TrainPolicyRequest(histories=histories_of(tickers[:2], [p[:60] for p in prices[:2]]), episodes=1, seed=99)
    expect_status(grpc.StatusCode.RESOURCE_EXHAUSTED, lambda: train(stubs.agent, small), "one training runs at a time")
    runner.join(30)
    assert outcome.get("code") == grpc.StatusCode.DEADLINE_EXCEEDED
    for _ in range(50):  # the slot is free once the training thread sees the stop
        try:
            assert not train(stubs.agent, small)[-1].result.replayed
            break
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            time.sleep(0.2)
    else:
        pytest.fail("the training slot was never released")


def test_a_policy_survives_a_restart(postgres):
    from conftest import holdingsd_command, start, stop
    url = postgres.new_database()
    tickers = [unique("RA"), unique("RB")]
    prices = synthetic_prices(8, tickers=2, periods=60)
    request = ag.TrainPolicyRequest(histories=histories_of(tickers, prices), episodes=2, seed=5)
    process, address = start(holdingsd_command(url))
    try:
        first = train(M["agent_pb2_grpc"].AgentServiceStub(holdings_channel(address)), request)[-1].result
    finally:
        stop(process)
    process, address = start(holdingsd_command(url))
    try:
        stubs = Stubs(address)
        again = train(stubs.agent, request)
        assert len(again) == 1 and again[0].result.replayed and again[0].result.policy_id == first.policy_id
        assert list(again[0].result.evaluation) == list(first.evaluation)
        client = client_with_prices(stubs, tickers, prices, [1, 1])
        answer = stubs.agent.RecommendAction(ag.RecommendActionRequest(client_id=client, policy_id=first.policy_id), timeout=10)
        assert len(answer.q_values) == 4 and len(answer.state) == 24
    finally:
        stop(process)


# The monitoring agent ------------------------------------------------------------------------

def wait_for(condition, what, seconds=20):
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def agent_client(stubs, auto_execute, band="0.05", client=None):
    client = client or "agent-" + uuid.uuid4().hex[:8]
    a, b = unique("MA"), unique("MB")
    stubs.buy(client, a, 1000, 100, NOW - timedelta(days=400))
    stubs.buy(client, b, 1000, 100, NOW - timedelta(days=400))
    stubs.rebalancing.ScheduleRebalancing(rb.ScheduleRebalancingRequest(
        client_id=client, cadence=ev.MONTHLY, strategy=ev.THRESHOLD, target_weights={a: "0.5", b: "0.5"},
        band=ev.DriftBand(absolute=band), auto_execute=auto_execute, enabled=True,
        start_at=ts(NOW + timedelta(days=300))), timeout=10)
    return client, a, b


def events_of(stubs, client, *types):
    return list(stubs.holdings.ListEvents(pb.ListEventsRequest(client_id=client, event_types=list(types), page_size=1000),
                                          timeout=10).events)


def test_drift_after_a_price_runs_the_rebalancing_end_to_end_with_causation_ids(stubs):
    client, a, b = agent_client(stubs, auto_execute=True)
    quote = M["common_pb2"].PriceQuote(ticker=a, price="150")
    stubs.holdings.PublishPrices(pb.PublishPricesRequest(prices=[quote]), timeout=10)
    valued = events_of(stubs, client, ev.POSITION_VALUED)[-1]
    completed = wait_for(lambda: events_of(stubs, client, ev.REBALANCING_COMPLETED), "the agent's rebalancing")[0]
    [trigger] = events_of(stubs, client, ev.REBALANCING_TRIGGERED)
    trades = events_of(stubs, client, ev.TRADE_EXECUTED)
    # price → POSITION_VALUED → (agent) REBALANCING_TRIGGERED → TRADE_EXECUTED… → REBALANCING_COMPLETED
    assert trigger.causation_id == valued.event_id and trigger.correlation_id == valued.correlation_id
    assert trades and all(t.causation_id == trigger.event_id for t in trades)
    assert completed.causation_id == trigger.event_id and completed.aggregate_id == trigger.aggregate_id
    assert trigger.source.endswith("agent/monitor")
    sold = [t for t in trades if t.trade_executed.side == M["common_pb2"].SELL]
    assert [t.trade_executed.ticker for t in sold] == [a]
    # The DRIFT alert: raised by the valuation (naming the run), cleared after the trades.
    def drift_cleared():
        alerts = stubs.agent.ListAlerts(ag.ListAlertsRequest(client_id=client, include_cleared=True), timeout=10).alerts
        return [x for x in alerts if x.alert.kind == M["common_pb2"].DRIFT and x.HasField("cleared_at")]
    [drift] = wait_for(drift_cleared, "the drift alert to clear")
    raised = [e for e in events_of(stubs, client, ev.AGENT_ALERT) if e.aggregate_id == drift.alert.alert_id]
    assert [e.aggregate_version for e in raised] == [1, 2]
    assert all(e.quality_score == 100 and not e.failed_quality_rules for e in raised)  # scored at the write
    assert raised[0].agent_alert.rebalancing_id == trigger.aggregate_id and raised[0].agent_alert.state == ev.RAISED
    assert raised[0].agent_alert.cause_event_ids[0] == valued.event_id and raised[0].causation_id == valued.event_id
    assert raised[0].agent_alert.figures["ticker"] == a and raised[0].agent_alert.figures["auto_execute"] == "true"
    assert drift.alert.state == ev.CLEARED and drift.raised_event_id == raised[0].event_id
    # Open alerts only, by default: the drift is gone.
    open_now = stubs.agent.ListAlerts(ag.ListAlertsRequest(client_id=client), timeout=10).alerts
    assert all(not x.HasField("cleared_at") for x in open_now)
    assert M["common_pb2"].DRIFT not in {x.alert.kind for x in open_now}


def test_drift_without_auto_execute_recommends_once_and_concentration_is_acknowledged(stubs):
    client, a, b = agent_client(stubs, auto_execute=False)
    # Two equal positions: 50 % each, a WARNING (waited for, so that the price below escalates it).
    wait_for(lambda: stubs.agent.ListAlerts(ag.ListAlertsRequest(client_id=client), timeout=10).alerts, "the first alert")
    stubs.holdings.PublishPrices(pb.PublishPricesRequest(prices=[M["common_pb2"].PriceQuote(ticker=a, price="300")]), timeout=10)
    trigger = wait_for(lambda: events_of(stubs, client, ev.REBALANCING_TRIGGERED), "the recommendation")[0]
    assert trigger.rebalancing_triggered.strategy == ev.THRESHOLD
    alerts = wait_for(lambda: {x.alert.kind: x for x in stubs.agent.ListAlerts(ag.ListAlertsRequest(client_id=client), timeout=10).alerts}
                      if len(stubs.agent.ListAlerts(ag.ListAlertsRequest(client_id=client), timeout=10).alerts) >= 2 else None,
                      "drift and concentration alerts")
    common = M["common_pb2"]
    assert set(alerts) >= {common.DRIFT, common.CONCENTRATION}
    # 50 % after the buys (WARNING), 75 % after the price (CRITICAL): escalated, so the open one is CRITICAL.
    concentration = wait_for(lambda: [x for x in stubs.agent.ListAlerts(ag.ListAlertsRequest(client_id=client), timeout=10).alerts
                                      if x.alert.kind == common.CONCENTRATION and x.alert.severity == common.CRITICAL], "escalation")[0]
    assert concentration.alert.figures["ticker"] == a and concentration.alert.figures["largest_weight"] == "0.75"
    history = [e for e in events_of(stubs, client, ev.AGENT_ALERT) if e.agent_alert.kind == common.CONCENTRATION]
    assert [(e.agent_alert.state, e.agent_alert.severity) for e in history][-3:] == \
        [(ev.RAISED, common.WARNING), (ev.CLEARED, common.WARNING), (ev.RAISED, common.CRITICAL)]
    assert "escalated to CRITICAL" in history[-2].agent_alert.message
    # Another price of the same kind: no second alert of a kind while one is open, no second recommendation.
    stubs.holdings.PublishPrices(pb.PublishPricesRequest(prices=[common.PriceQuote(ticker=a, price="310")]), timeout=10)
    valued = events_of(stubs, client, ev.POSITION_VALUED)[-1]
    wait_for(lambda: any(valued.event_id in x.alert.cause_event_ids or True for x in
                         stubs.agent.ListAlerts(ag.ListAlertsRequest(client_id=client), timeout=10).alerts), "the agent")
    import time
    time.sleep(1)
    assert len(events_of(stubs, client, ev.REBALANCING_TRIGGERED)) == 1
    still_open = stubs.agent.ListAlerts(ag.ListAlertsRequest(client_id=client), timeout=10).alerts
    assert len({x.alert.kind for x in still_open}) == len(still_open)  # one open alert per kind
    # Acknowledge: once; a retry with the same request id answers the same; another client's alert is not found.
    request_id = uuid.uuid4().hex
    ack = stubs.agent.AcknowledgeAlert(ag.AcknowledgeAlertRequest(client_id=client, alert_id=concentration.alert.alert_id,
                                                                  note="seen", request_id=request_id), timeout=10)
    assert ack.event_id and ack.alert.note == "seen" and ack.alert.acknowledged_by and ack.alert.HasField("acknowledged_at")
    again = stubs.agent.AcknowledgeAlert(ag.AcknowledgeAlertRequest(client_id=client, alert_id=concentration.alert.alert_id,
                                                                    note="seen", request_id=request_id), timeout=10)
    assert again.event_id == ack.event_id
    expect_status(grpc.StatusCode.ALREADY_EXISTS, lambda: stubs.agent.AcknowledgeAlert(ag.AcknowledgeAlertRequest(
        client_id=client, alert_id=concentration.alert.alert_id), timeout=10), "acknowledged")
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: stubs.agent.AcknowledgeAlert(ag.AcknowledgeAlertRequest(
        client_id="someone-else", alert_id=concentration.alert.alert_id), timeout=10), "not found")
    [acked] = [e for e in events_of(stubs, client, ev.ALERT_ACKNOWLEDGED)]
    assert acked.alert_acknowledged.alert_id == concentration.alert.alert_id and acked.event_id == ack.event_id
    assert acked.quality_score == 100 and not acked.failed_quality_rules
    for request, needle in ((ag.AcknowledgeAlertRequest(client_id=client), "alert_id"),
                            (ag.AcknowledgeAlertRequest(alert_id="x"), "client_id"),
                            (ag.AcknowledgeAlertRequest(client_id=client, alert_id="x", note="n" * 1001), "note")):
        expect_status(INVALID, lambda: stubs.agent.AcknowledgeAlert(request, timeout=10), needle)
    expect_status(INVALID, lambda: stubs.agent.ListAlerts(ag.ListAlertsRequest(client_id=client, max_alerts=1001), timeout=10),
                  "max_alerts")


def test_watch_events_streams_the_agents_alerts(stubs):
    client = "agent-w-" + uuid.uuid4().hex[:8]
    watch = stubs.holdings.WatchEvents(pb.WatchEventsRequest(client_id=client, event_types=[ev.AGENT_ALERT]), timeout=20)
    stream = iter(watch)
    _, a, b = agent_client(stubs, auto_execute=False, band="0.5", client=client)
    # After the first buy one position is 100 % of the portfolio, after the second 50 %: the agent
    # may see both in one batch, so the alert is CRITICAL or WARNING.
    first = next(stream).event
    assert first.event_type == ev.AGENT_ALERT and first.agent_alert.kind == M["common_pb2"].CONCENTRATION
    assert first.client_id == client and first.agent_alert.state == ev.RAISED
    assert first.agent_alert.severity in (M["common_pb2"].CRITICAL, M["common_pb2"].WARNING)
    # A third position brings the largest weight to a third: the alert clears, live.
    stubs.buy(client, unique("MC"), 1000, 100)
    cleared = next(stream).event
    watch.cancel()
    assert cleared.aggregate_id == first.aggregate_id and cleared.aggregate_version == 2 and cleared.agent_alert.state == ev.CLEARED


def test_open_alerts_survive_a_restart_and_are_not_raised_twice(postgres):
    from conftest import holdingsd_command, start, stop
    import time
    url = postgres.new_database()
    client = "agent-r-" + uuid.uuid4().hex[:6]
    common = M["common_pb2"]

    def alerts_of(stubs, kind):
        return [e for e in events_of(stubs, client, ev.AGENT_ALERT) if e.agent_alert.kind == kind]

    process, address = start(holdingsd_command(url))
    try:
        stubs = Stubs(address)
        _, a, b = agent_client(stubs, auto_execute=False, client=client)  # 1000 + 1000 shares: 50 % each, a WARNING
        [raised] = wait_for(lambda: alerts_of(stubs, common.CONCENTRATION), "the concentration alert")
    finally:
        stop(process)
    process, address = start(holdingsd_command(url))
    try:
        stubs = Stubs(address)
        # A to 1400 of 2400 shares: 58 %, the same WARNING (the open alert stands), and a drift of 8 points past the
        # schedule's 5-point band, which raises a DRIFT alert: the proof that the agent evaluated after the restart.
        stubs.buy(client, a, 400, 100)
        wait_for(lambda: alerts_of(stubs, common.DRIFT), "the drift alert after the restart")
        time.sleep(0.5)
        assert [e.event_id for e in alerts_of(stubs, common.CONCENTRATION)] == [raised.event_id]
        assert len(events_of(stubs, client, ev.REBALANCING_TRIGGERED)) == 1
        stubs.buy(client, unique("RC"), 1300, 100)  # a third position: 140k / 100k / 130k, A at 38 %, under the limit
        cleared = wait_for(lambda: [e for e in alerts_of(stubs, common.CONCENTRATION) if e.aggregate_version == 2], "the alert to clear")
        assert cleared[0].aggregate_id == raised.aggregate_id and cleared[0].agent_alert.state == ev.CLEARED
    finally:
        stop(process)


def test_the_agent_as_a_process_of_its_own_acts_through_the_api_and_resumes_after_kill_9(postgres, tmp_path):
    """holdings-broker (the log), holdingsd serving the API with the projector and no agent, and
    holdingsd --role agent acting through the API with an admin token."""
    import subprocess
    import threading
    import time
    from conftest import binary, holdingsd_binary, holdingsd_command, jwt_secret_file, start, stop, token
    from test_faults import Broker
    broker = Broker(partitions=4)
    url = postgres.new_database()
    api, address = start(holdingsd_command(url, "--kafka-brokers", broker.bootstrap, "--no-agent"))
    token_file = tmp_path / "agent.token"
    token_file.write_text(token("admin", subject="holdings-agent"))

    def start_agent():
        process = subprocess.Popen([holdingsd_binary(), "--role", "agent", "--database-url", url, "--kafka-brokers", broker.bootstrap,
                                    "--api-address", address, "--api-token-file", str(token_file)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        process.output = []
        ready = threading.Event()

        def drain():
            for line in process.stdout:
                process.output.append(line)
                if "agent running" in line:
                    ready.set()
            ready.set()
        threading.Thread(target=drain, daemon=True).start()
        assert ready.wait(60) and process.poll() is None, "".join(process.output)[-3000:]
        return process

    agent = start_agent()
    try:
        stubs = Stubs(address)
        time.sleep(2)  # the agent joins its consumer group
        client, a, b = agent_client(stubs, auto_execute=True)
        stubs.holdings.PublishPrices(pb.PublishPricesRequest(prices=[M["common_pb2"].PriceQuote(ticker=a, price="150")]), timeout=10)
        valued = events_of(stubs, client, ev.POSITION_VALUED)[-1]
        completed = wait_for(lambda: events_of(stubs, client, ev.REBALANCING_COMPLETED), "the agent's rebalancing", 40)[0]
        [trigger] = events_of(stubs, client, ev.REBALANCING_TRIGGERED)
        assert trigger.causation_id == valued.event_id and trigger.correlation_id == valued.correlation_id
        assert trigger.actor == "token:holdings-agent"  # through the API, under the agent's identity
        assert completed.causation_id == trigger.event_id
        drift = wait_for(lambda: [e for e in events_of(stubs, client, ev.AGENT_ALERT) if e.agent_alert.kind == M["common_pb2"].DRIFT],
                         "the drift alert")[0]
        assert drift.agent_alert.rebalancing_id == trigger.aggregate_id and drift.causation_id == valued.event_id
        assert drift.source == "holdings-agent/agent/monitor"
        # kill -9: the agent resumes from its stored offsets and remembers its open alerts.
        agent.kill()
        agent.wait()
        stubs.holdings.PublishPrices(pb.PublishPricesRequest(prices=[M["common_pb2"].PriceQuote(ticker=b, price="300")]), timeout=10)
        agent = start_agent()
        try:
            second = wait_for(lambda: events_of(stubs, client, ev.REBALANCING_TRIGGERED)[1:], "the second rebalancing", 40)[0]
        except BaseException:
            print("".join(agent.output)[-6000:])
            raise
        assert second.causation_id == events_of(stubs, client, ev.POSITION_VALUED)[-1].event_id
        # The kill may land before or after the agent cleared the first DRIFT alert (its run completed): either way
        # the new drift raised a new alert, the first was cleared once, and the projection took every alert.
        drifts = {}
        for e in events_of(stubs, client, ev.AGENT_ALERT):
            if e.agent_alert.kind == M["common_pb2"].DRIFT:
                drifts.setdefault(e.aggregate_id, []).append(e.aggregate_version)
        assert drifts[drift.aggregate_id] == [1, 2] and len(drifts) == 2 and all(v in ([1], [1, 2]) for v in drifts.values()), drifts
        assert postgres.psql(url, "SELECT count(*) FROM dead_letters").strip() == "0"
        # A non-admin caller's causation metadata is ignored.
        reader = M["rebalancing_pb2_grpc"].RebalancingServiceStub(holdings_channel(address, token(f"clients:write:{client}", subject="person")))
        other = reader.EvaluateRebalancing(rb.EvaluateRebalancingRequest(
            client_id=client, target_weights={a: "0.9", b: "0.1"}, strategy=ev.THRESHOLD, band=ev.DriftBand(absolute="0.01")),
            metadata=[("holdings-causation-id", "forged")], timeout=10)
        mine = [e for e in events_of(stubs, client, ev.REBALANCING_TRIGGERED) if e.event_id == other.event_id][0]
        assert mine.causation_id == mine.event_id and mine.rebalancing_triggered.rebalancing_id == other.rebalancing_id
    finally:
        agent.kill()
        stop(api)
        broker.stop()
