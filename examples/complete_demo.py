#!/usr/bin/env python3
"""The whole flow of UltraCore Holdings in one script, through the Python client package
(clients/python): buy lots of three tickers, price them, sell by each cost-basis method,
split a ticker, compute performance from the valuation history, plan a rebalancing, dry-run
it, execute it. Every step prints what it did; a broken invariant exits non-zero.

  bash deploy/run.sh                       # in another terminal: prints the token
  .venv/bin/python examples/complete_demo.py --server 127.0.0.1:50051 --token <token>

(pip install ./clients/python first when not using the repository's .venv.)
"""
import argparse
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from ultracore.holdings.client import HoldingsClient, decimal, timestamp
from ultracore.holdings.v1 import analytics_pb2, common_pb2, events_pb2, holdings_pb2, rebalancing_pb2


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--token", default=os.environ.get("HOLDINGS_TOKEN"), help="bearer token (default: env HOLDINGS_TOKEN)")
    parser.add_argument("--client", default="demo-" + uuid.uuid4().hex[:8], help="client id to use (default: a new one)")
    args = parser.parse_args()
    client = args.client
    suffix = uuid.uuid4().hex[:4].upper()
    tickers = {"AAA" + suffix: ["100", "110", "95"], "BBB" + suffix: ["50", "55"], "CCC" + suffix: ["20"]}
    now = datetime.now(timezone.utc)
    with HoldingsClient(args.server, args.token) as h:
        print(f"client {client}")
        # 1. Buy: lots a year and more apart, so that sales have both holding periods.
        for ticker, prices in tickers.items():
            for age, price in zip((500, 200, 10), prices):
                bought = h.open_position(client, ticker, quantity=10, price=price, fees="1", trade_time=now - timedelta(days=age))
                print(f"bought 10 {ticker} at {price} ({age} days ago): position {bought.position.position_id}, "
                      f"{bought.position.quantity} shares, basis {bought.position.cost_basis}")
        # 2. Prices over a few days: the valuation history analytics read (from here on: the
        #    buys above changed the holdings, not the performance).
        aaa, bbb, ccc = tickers
        priced_from = timestamp(datetime.now(timezone.utc))
        for day, move in enumerate(("1.00", "1.02", "0.97", "1.05", "1.04", "1.08")):
            h.publish_prices({aaa: Decimal("100") * Decimal(move), bbb: Decimal("52") * Decimal(move), ccc: Decimal("21") * Decimal(move)})
        value = h.holdings.GetPortfolioValue(holdings_pb2.GetPortfolioValueRequest(client_id=client), timeout=10)
        print(f"portfolio: market value {value.market_value}, cost {value.cost_basis}, unrealized {value.unrealized_gain}")
        # 3. Sell 2 shares by each method: each picks other lots, so the gains differ.
        gains = {}
        for method in ("FIFO", "LIFO", "HIFO", "AVERAGE"):
            sold = h.sell(client, aaa, quantity=2, price="108", method=method)
            gains[method] = decimal(sold.gains.total)
            print(f"sold 2 {aaa} by {method}: proceeds {sold.total_proceeds}, basis {sold.total_cost_basis}, "
                  f"gain {sold.gains.total} (short {sold.gains.short_term}, long {sold.gains.long_term})")
        check(gains["HIFO"] <= gains["LIFO"] and gains["HIFO"] <= gains["FIFO"], "HIFO realizes the smallest gain")
        # 4. A 2-for-1 split of BBB: twice the shares, the same basis.
        before = next(p for p in h.positions(client) if p.ticker == bbb)
        h.holdings.ApplyCorporateAction(holdings_pb2.ApplyCorporateActionRequest(
            ticker=bbb, type=events_pb2.SPLIT, split_to="2", split_from="1", request_id=uuid.uuid4().hex), timeout=30)
        after = next(p for p in h.positions(client) if p.ticker == bbb)
        print(f"split {bbb} 2:1: {before.quantity} -> {after.quantity} shares, basis {before.cost_basis} -> {after.cost_basis}")
        check(decimal(after.quantity) == 2 * decimal(before.quantity) and after.cost_basis == before.cost_basis, "a split keeps the basis")
        # 5. Analytics over the client's valuation history.
        series = analytics_pb2.SeriesInput(history=analytics_pb2.ClientHistory(client_id=client, start_time=priced_from))
        performance = h.analytics.ComputePerformance(analytics_pb2.ComputePerformanceRequest(series=series, periods_per_year=252), timeout=10)
        sharpe = h.analytics.ComputeSharpe(analytics_pb2.ComputeSharpeRequest(series=series, periods_per_year=252), timeout=10)
        drawdown = h.analytics.ComputeMaxDrawdown(analytics_pb2.ComputeMaxDrawdownRequest(series=series), timeout=10)
        print(f"performance: total return {performance.total_return:.4%}, volatility {performance.annual_volatility:.4f}, "
              f"Sharpe {sharpe.sharpe:.3f}, Sortino {sharpe.sortino:.3f}, max drawdown {drawdown.max_drawdown:.4%}")
        # 6. Rebalance to 40/40/20: plan, dry run, execute.
        targets = {aaa: "0.4", bbb: "0.4", ccc: "0.2"}
        plan = h.rebalancing.PlanRebalancing(rebalancing_pb2.PlanRebalancingRequest(
            client_id=client, target_weights=targets, strategy=events_pb2.THRESHOLD, band=events_pb2.DriftBand(absolute="0.01")), timeout=10)
        for trade in plan.trades:
            print(f"planned: {common_pb2.TradeSide.Name(trade.side)} {trade.quantity} {trade.ticker}")
        check(len(plan.trades) > 0, "the plan has trades")
        dry = h.rebalancing.ExecuteRebalancing(rebalancing_pb2.ExecuteRebalancingRequest(
            client_id=client, plan_id=plan.plan_id, dry_run=True, request_id=uuid.uuid4().hex), timeout=30)
        check(dry.dry_run, "the dry run says so")
        done = h.rebalancing.ExecuteRebalancing(rebalancing_pb2.ExecuteRebalancingRequest(
            client_id=client, plan_id=plan.plan_id, request_id=uuid.uuid4().hex), timeout=30)
        print(f"rebalanced ({done.rebalancing_id}): {len(done.trades)} trades, cost {done.total_cost}")
        weights = {p.ticker: decimal(p.market_value) for p in h.positions(client)}
        total = sum(weights.values())
        print("weights after: " + ", ".join(f"{t} {w / total:.3f}" for t, w in sorted(weights.items())))
        check(all(abs(weights[t] / total - Decimal(w)) < Decimal("0.02") for t, w in targets.items()), "weights reach their targets")
        events = h.holdings.ListEvents(holdings_pb2.ListEventsRequest(client_id=client, page_size=1000), timeout=10).events
        print(f"done: {len(events)} events recorded for {client}")


if __name__ == "__main__":
    main()
