"""The `holdings` command line through the wire: health, buying, listing, selling, the
generic `call` of any method (answers equal the gRPC ones), streaming events, exit codes
by gRPC status, bad command lines, and shell completion."""
import json
import os
import subprocess
import uuid

import pytest
from conftest import binary, holdingsd_command, holdings_channel, start, stop, token
from google.protobuf import json_format

import samples

M = samples.holdings_modules()
pb, cb, common = M["holdings_pb2"], M["cost_basis_pb2"], M["common_pb2"]


@pytest.fixture(scope="module")
def cli(postgres, tmp_path_factory):
    process, address = start(holdingsd_command(postgres.new_database(), "--no-agent"))
    token_file = tmp_path_factory.mktemp("cli") / "token"
    token_file.write_text(token("admin"))
    channel = holdings_channel(address)
    yield {"address": address, "token_file": str(token_file), "holdings": M["holdings_pb2_grpc"].HoldingsServiceStub(channel),
           "costs": M["cost_basis_pb2_grpc"].CostBasisServiceStub(channel), "dir": tmp_path_factory.mktemp("cli-files")}
    stop(process)


def run(cli, *args, token_file=True, stdin=None):
    command = [binary("holdings"), *args]
    if args and args[0] not in ("methods", "--help", "--generate-completion-script"):
        command += ["--server", cli["address"]]
        if token_file:
            command += ["--token-file", cli["token_file"]]
    env = {k: v for k, v in os.environ.items() if k != "HOLDINGS_TOKEN"}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, input=stdin, env=env)


def as_json(message):
    return json.loads(json_format.MessageToJson(message))


def test_buy_list_show_sell_and_value(cli):
    client = "cli-" + uuid.uuid4().hex[:8]
    assert run(cli, "health").stdout.strip() == "SERVING"
    first = run(cli, "positions", "open", "--client", client, "--ticker", "CLIA", "--qty", "10", "--price", "150.25")
    assert first.returncode == 0 and "opened pos-" in first.stdout and "10 CLIA" in first.stdout, first.stderr
    added = run(cli, "positions", "open", "--client", client, "--ticker", "CLIA", "--qty", "5", "--price", "140", "--json")
    answer = json.loads(added.stdout)
    position = answer["position"]["positionId"]
    assert "created" not in answer and answer["position"]["quantity"] == "15"
    listed = run(cli, "positions", "list", client)
    assert listed.returncode == 0 and "CLIA" in listed.stdout and position in listed.stdout
    shown = run(cli, "positions", "get", position)
    assert shown.stdout.count("SHORT_TERM") == 2 and "150.25" in shown.stdout
    dry = run(cli, "cost-basis", "sell", "--client", client, "--ticker", "CLIA", "--qty", "3", "--price", "160", "--method", "hifo", "--dry-run", "--json")
    expected = cli["costs"].SellLots(cb.SellLotsRequest(client_id=client, ticker="CLIA", quantity="3", price="160", method=common.HIFO,
                                                        dry_run=True, max_lots=1), timeout=10)
    ours = json.loads(dry.stdout)
    assert ours["gains"] == as_json(expected)["gains"] and ours["dryRun"] is True
    sold = run(cli, "cost-basis", "sell", "--client", client, "--ticker", "CLIA", "--qty", "3", "--price", "160", "--method", "HIFO")
    assert sold.returncode == 0 and f"realized {expected.gains.total}" in sold.stdout
    value = run(cli, "portfolio", "value", client, "--json")
    assert json.loads(value.stdout) == as_json(cli["holdings"].GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client), timeout=10))


def test_generic_call_reaches_every_method_and_streams(cli):
    methods = run(cli, "methods")
    assert methods.returncode == 0 and len([l for l in methods.stdout.splitlines() if "Service/" in l]) == 39
    client = "clc-" + uuid.uuid4().hex[:8]
    opened = run(cli, "call", "HoldingsService/OpenPosition", json.dumps({"clientId": client, "ticker": "CALL", "quantity": "2", "price": "3"}))
    position = json.loads(opened.stdout)["position"]["positionId"]
    request_file = cli["dir"] / "get.json"
    request_file.write_text(json.dumps({"positionId": position}))
    got = run(cli, "call", "ultracore.holdings.v1.HoldingsService/GetPosition", f"@{request_file}")
    assert json.loads(got.stdout) == as_json(cli["holdings"].GetPosition(pb.GetPositionRequest(position_id=position), timeout=10))
    piped = run(cli, "call", "AnalyticsService/ComputeMaxDrawdown", "-", stdin='{"series": {"values": {"values": ["100", "80", "120"]}}}')
    assert json.loads(piped.stdout)["maxDrawdown"] == pytest.approx(-0.2)
    watched = run(cli, "events", "watch", "--client", client, "--from-start", "--count", "1")
    assert watched.returncode == 0 and "POSITION_OPENED" in watched.stdout and client in watched.stdout


def test_exit_codes_follow_grpc_statuses_and_bad_command_lines(cli):
    missing = run(cli, "positions", "get", "nope-" + uuid.uuid4().hex)
    assert missing.returncode == 5 and "NOT_FOUND" in missing.stderr
    anonymous = run(cli, "portfolio", "value", "c1", token_file=False)
    assert anonymous.returncode == 16 and "UNAUTHENTICATED" in anonymous.stderr
    refused = run(cli, "positions", "open", "--client", "c1", "--ticker", "bad ticker", "--qty", "1", "--price", "1")
    assert refused.returncode == 3 and "ticker" in refused.stderr
    assert run(cli, "positions", "open", "--client", "c1", "--ticker", "X", "--qty", "ten", "--price", "1").returncode == 64
    assert run(cli, "call", "HoldingsService/Nope", "{}").returncode == 64
    bad_json = run(cli, "call", "HoldingsService/GetPosition", '{"positionId": 7}')
    assert bad_json.returncode == 64 and "positionId" in bad_json.stderr
    unreachable = subprocess.run([binary("holdings"), "health", "--server", "127.0.0.1:1", "--timeout", "3"], capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 14, unreachable.stderr
    completion = run(cli, "--generate-completion-script", "bash")
    assert completion.returncode == 0 and "positions" in completion.stdout and "cost-basis" in completion.stdout


def test_csv_import_dry_run_idempotent_reimport_and_workflows(cli):
    client = "cimp-" + uuid.uuid4().hex[:8]
    transactions = cli["dir"] / "transactions.csv"
    transactions.write_text("Date,Ticker,Action,Quantity,Price,Fees\n"
                            "2025-01-02,imp,BUY,10,100,1\n"
                            "2025-03-03,IMP,BUY,10,120,1\n"
                            "2025-03-03,IMP,BUY,10,120,1\n"  # the same trade twice: two trades
                            '2025-06-02,IMP,SELL,5,130,"0.5"\n'
                            "2025-06-03T15:30:00Z,OTH,BUY,3,40,\n")
    dry = run(cli, "import", str(transactions), "--client", client, "--dry-run")
    assert dry.returncode == 0 and "5 transactions" in dry.stdout and "nothing sent" in dry.stdout
    assert list(cli["holdings"].ListPositions(pb.ListPositionsRequest(client_id=client), timeout=10).positions) == []
    first = run(cli, "import", str(transactions), "--client", client)
    assert first.returncode == 0, first.stderr
    assert [line for line in first.stdout.splitlines() if line.startswith("5/5 ")]  # plain progress lines when piped
    events = lambda: cli["holdings"].ListEvents(pb.ListEventsRequest(client_id=client, page_size=1000), timeout=10).events
    recorded = len(events())
    positions = {p.ticker: p for p in cli["holdings"].ListPositions(pb.ListPositionsRequest(client_id=client), timeout=10).positions}
    assert positions["IMP"].quantity == "25" and positions["OTH"].quantity == "3" and recorded == 5
    again = run(cli, "import", str(transactions), "--client", client)
    assert again.returncode == 0 and len(events()) == recorded  # re-import records nothing twice
    # On a terminal (a pseudo-terminal from script(1)) the progress is a bar redrawn in place.
    other = cli["dir"] / "other.csv"
    other.write_text("date,ticker,action,quantity,price\n2025-01-02,TTY,BUY,1,1\n2025-01-03,TTY,BUY,1,2\n")
    command = " ".join([binary("holdings"), "import", str(other), "--client", client, "--server", cli["address"],
                        "--token-file", cli["token_file"]])
    tty = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, timeout=60)  # bytes: keep the \r
    assert tty.returncode == 0 and b"\r[###############...............] 1/2" in tty.stdout and b"] 2/2" in tty.stdout, tty.stdout
    bad = cli["dir"] / "bad.csv"
    bad.write_text("date,ticker,action,quantity,price\n2025-01-02,IMP,HOLD,1,1\n")
    refused = run(cli, "import", str(bad), "--client", client)
    assert refused.returncode == 64 and "line 2" in refused.stderr and "BUY or SELL" in refused.stderr
    # analytics from a returns file, and a rebalancing plan from --targets
    returns = cli["dir"] / "returns.csv"
    returns.write_text("date,return\n2025-01-02,0.01\n2025-01-03,-0.02\n2025-01-06,0.03\n2025-01-07,0.005\n")
    sharpe = run(cli, "analytics", "sharpe", "--returns-file", str(returns), "--json")
    an = M["analytics_pb2"]
    expected = M["analytics_pb2_grpc"].AnalyticsServiceStub(holdings_channel(cli["address"])).ComputeSharpe(an.ComputeSharpeRequest(
        series=an.SeriesInput(returns=an.ReturnSeries(returns=[0.01, -0.02, 0.03, 0.005])), periods_per_year=252), timeout=10)
    assert json.loads(sharpe.stdout) == as_json(expected)
    plan = run(cli, "rebalance", "plan", client, "--targets", "IMP=0.5,OTH=0.5")
    assert plan.returncode == 0 and "plan " in plan.stdout, plan.stderr
    assert "BUY" in plan.stdout and "OTH" in plan.stdout
