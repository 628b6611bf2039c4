"""`holdings report` in a real headless browser (Debian's chromium): the page renders, its
four SVG charts and its tables are there, and its numbers are the RPCs' answers."""
import html
import json
import os
import re
import subprocess
import time
import uuid

import pytest
from conftest import binary, holdingsd_command, holdings_channel, start, stop, token

import samples

M = samples.holdings_modules()
pb, an, rb, ev = M["holdings_pb2"], M["analytics_pb2"], M["rebalancing_pb2"], M["events_pb2"]
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]


def test_report_renders_with_charts_and_the_rpcs_numbers(postgres, tmp_path):
    process, address = start(holdingsd_command(postgres.new_database(), "--no-agent"))
    try:
        channel = holdings_channel(address)
        holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
        analytics = M["analytics_pb2_grpc"].AnalyticsServiceStub(channel)
        rebalancing = M["rebalancing_pb2_grpc"].RebalancingServiceStub(channel)
        client = "rep-" + uuid.uuid4().hex[:8]
        ids = {}
        for ticker, price in (("REPA", "100"), ("REPB", "50"), ("REPC", "20")):
            ids[ticker] = holdings.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity="10", price=price),
                                                timeout=10).position.position_id
        for move in ("1.02", "0.97", "1.05", "0.99", "1.08"):
            time.sleep(0.7)  # a history of a few seconds: the value chart samples it
            for ticker, base in (("REPA", 100), ("REPB", 50), ("REPC", 20)):
                holdings.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=ids[ticker], price=str(base * float(move))), timeout=10)
        plan = rebalancing.PlanRebalancing(rb.PlanRebalancingRequest(client_id=client, target_weights={"REPA": "0.4", "REPB": "0.4", "REPC": "0.2"},
                                                                     strategy=ev.THRESHOLD, band=ev.DriftBand(absolute="0.01")), timeout=10)
        run = rebalancing.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id, request_id=uuid.uuid4().hex), timeout=30)
        token_file = tmp_path / "token"
        token_file.write_text(token("admin"))
        benchmark = tmp_path / "benchmark.csv"
        history = an.SeriesInput(history=an.ClientHistory(client_id=client))
        count = analytics.ComputePerformance(an.ComputePerformanceRequest(series=history, periods_per_year=252), timeout=10).observations
        benchmark_returns = [round(0.01 * ((i * 7) % 5 - 2), 4) for i in range(count)]  # as many returns as the history has
        benchmark.write_text("return\n" + "\n".join(map(str, benchmark_returns)) + "\n")
        out = tmp_path / "report.html"
        made = subprocess.run([binary("holdings"), "report", client, "--out", str(out), "--benchmark-file", str(benchmark),
                               "--server", address, "--token-file", str(token_file)], capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr

        dom = subprocess.run([*CHROMIUM, "--dump-dom", f"file://{out}"], capture_output=True, text=True, timeout=120)
        assert dom.returncode == 0 and "<svg" in dom.stdout, dom.stderr[-2000:]
        page = dom.stdout
        for chart in ("chart-value", "chart-drawdown", "chart-allocation", "chart-gains"):
            assert f'id="{chart}"' in page, chart
        assert page.count("<polyline") == 2 and page.count("<polygon") == 1
        # The value chart moves (the prices went up and down), and so does the drawdown.
        lines = re.findall(r'<polyline points="([^"]+)"', page)
        heights = [[float(p.split(",")[1]) for p in line.split()] for line in lines]
        assert len(set(heights[0])) >= 4 and len(set(heights[1])) >= 2, heights
        # The numbers are the RPCs' answers.
        value = holdings.GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client), timeout=10)
        assert re.search(r'id="market-value">([^<]+)<', page).group(1) == value.market_value
        assert re.search(r'id="cost-basis">([^<]+)<', page).group(1) == value.cost_basis
        bars = dict(re.findall(r'data-label="([^"]+)" data-value="([^"]+)"', page))
        for position in holdings.ListPositions(pb.ListPositionsRequest(client_id=client), timeout=10).positions:
            assert float(bars[position.ticker]) == pytest.approx(float(position.market_value), abs=0.01)
        metrics = {k: html.unescape(v) for k, v in re.findall(r'data-metric="([^"]+)">([^<]*)<', page)}
        series = an.SeriesInput(history=an.ClientHistory(client_id=client))
        sharpe = analytics.ComputeSharpe(an.ComputeSharpeRequest(series=series, periods_per_year=252), timeout=10)
        assert metrics["sharpe"] == f"{sharpe.sharpe:.3f}" and metrics["sortino"] == f"{sharpe.sortino:.3f}"
        performance = analytics.ComputePerformance(an.ComputePerformanceRequest(series=series, periods_per_year=252), timeout=10)
        assert metrics["total_return"] == f"{performance.total_return * 100:.2f}%"
        drawdown = analytics.ComputeMaxDrawdown(an.ComputeMaxDrawdownRequest(series=series), timeout=10)
        assert metrics["max_drawdown"] == f"{drawdown.max_drawdown * 100:.2f}%"
        relative = analytics.ComputeAlphaBeta(an.ComputeAlphaBetaRequest(
            series=series, benchmark=an.SeriesInput(returns=an.ReturnSeries(returns=benchmark_returns)), periods_per_year=252), timeout=10)
        assert metrics["alpha"] == f"{relative.alpha:.3f}" and metrics["beta"] == f"{relative.beta:.3f}"
        assert run.rebalancing_id in page and page.count("<td>BUY</td>") + page.count("<td>SELL</td>") == len(run.trades)

        shot = tmp_path / "report.png"
        taken = subprocess.run([*CHROMIUM, f"--screenshot={shot}", "--window-size=1400,1300", f"file://{out}"],
                               capture_output=True, text=True, timeout=120)
        assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a page with charts, not a blank one
    finally:
        stop(process)
