"""The `holdings` command line's generated command of every method, and its long work.

Every method of the six services has a typed command (an option per request field), whose
answers must equal the gRPC ones; bad option values exit 64 naming the option, server
refusals exit with the gRPC code. The long work (a price batch, training a policy, replaying
events) shows its progress as plain lines when piped and as a bar on a terminal."""
import datetime
import json
import re
import subprocess
import uuid

import pytest
from conftest import binary, holdings_channel
from google.protobuf import json_format

import samples
from test_cli import as_json, cli, run  # noqa: F401  (the module's server fixture)

M = samples.holdings_modules()
pb, cb, common = M["holdings_pb2"], M["cost_basis_pb2"], M["common_pb2"]
GROUPS = {"HoldingsService": "positions", "CostBasisService": "cost-basis", "AnalyticsService": "analytics",
          "RebalancingService": "rebalance", "AgentService": "agent", "DataMeshService": "data-mesh"}


def services():
    for module in ("holdings_pb2", "cost_basis_pb2", "analytics_pb2", "rebalancing_pb2", "agent_pb2", "data_mesh_pb2"):
        yield from M[module].DESCRIPTOR.services_by_name.values()


def kebab(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def test_every_method_has_a_typed_command_with_an_option_per_field(cli):
    listed = run(cli, "methods")
    assert listed.returncode == 0, listed.stderr
    rows = {}
    for line in listed.stdout.splitlines()[2:]:
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    count = 0
    for service in services():
        for method in service.methods:
            count += 1
            command = f"{GROUPS[service.name]} {kebab(method.name)}"
            assert rows[f"{service.name}/{method.name}"][2] == command, rows[f"{service.name}/{method.name}"]
            shown = run(cli, *command.split(), "--help")
            assert shown.returncode == 0, (command, shown.stderr)
            for field in method.input_type.fields:
                assert f"--{field.name.replace('_', '-')}" in shown.stdout, (command, field.name)
            assert "--request <json>" in shown.stdout and "--server" in shown.stdout
    assert count == 39


def test_typed_commands_answer_as_grpc(cli):
    client = "ctyp-" + uuid.uuid4().hex[:8]
    opened = run(cli, "positions", "open-position", "--client-id", client, "--ticker", "TYPA", "--quantity", "10", "--price", "100",
                 "--trade-time", "2024-01-02", "--json")
    assert opened.returncode == 0, opened.stderr
    position = json.loads(opened.stdout)["position"]
    assert position["lots"][0]["acquiredAt"] == "2024-01-02T00:00:00Z" and position["quantity"] == "10"
    # --request carries the body, options override it; the idempotency key makes a retry a no-op.
    body = json.dumps({"clientId": client, "ticker": "TYPA", "quantity": "999", "price": "90"})
    second = run(cli, "positions", "open-position", "--request", body, "--quantity", "5", "--request-id", "typ-" + client, "--json")
    retried = run(cli, "positions", "open-position", "--request", body, "--quantity", "5", "--request-id", "typ-" + client, "--json")
    assert json.loads(second.stdout) == json.loads(retried.stdout)
    assert json.loads(second.stdout)["position"]["quantity"] == "15"
    got = run(cli, "positions", "get-position", "--position-id", position["positionId"], "--json")
    expected = cli["holdings"].GetPosition(pb.GetPositionRequest(position_id=position["positionId"]), timeout=10)
    assert json.loads(got.stdout) == as_json(expected)
    # The table form: scalars in declaration order, the lots as a table.
    table = run(cli, "positions", "get-position", "--position-id", position["positionId"]).stdout
    assert re.search(r"^position\.quantity\s+15$", table, re.M) and "position.lots (2)" in table
    assert table.index("position.positionId") < table.index("position.quantity") < table.index("position.lots (2)")
    lot_rows = table.split("position.lots (2)")[1].strip().splitlines()
    assert lot_rows[0].split()[:3] == ["lotId", "acquiredAt", "quantity"] and len(lot_rows) == 4 and "LONG_TERM" in table
    # An enum by its short name in any case; a dry run equals gRPC's.
    dry = run(cli, "cost-basis", "sell-lots", "--client-id", client, "--ticker", "TYPA", "--quantity", "12", "--price", "120",
              "--method", "hifo", "--dry-run", "--json")
    grpc_dry = cli["costs"].SellLots(cb.SellLotsRequest(client_id=client, ticker="TYPA", quantity="12", price="120", method=common.HIFO,
                                                        dry_run=True), timeout=10)
    without_time = lambda lots: [{k: v for k, v in lot.items() if k != "soldAt"} for lot in lots]  # sold "now": a moment apart
    assert without_time(json.loads(dry.stdout)["realized"]) == without_time(as_json(grpc_dry)["realized"])
    assert [lot["lotId"] for lot in json.loads(dry.stdout)["realized"]] == ["L1", "L2"]
    # The README's forms: SPECIFIC_ID with a JSON lot selection, a time option given as a date.
    specific = run(cli, "cost-basis", "sell-lots", "--client-id", client, "--ticker", "TYPA", "--quantity", "2", "--price", "120",
                   "--method", "specific-id", "--lot-selections", '{"lotId": "L2", "quantity": "2"}', "--dry-run", "--json")
    assert [(lot["lotId"], lot["quantity"]) for lot in json.loads(specific.stdout)["realized"]] == [("L2", "2")], specific.stderr
    empty = run(cli, "data-mesh", "get-portfolio-as-of", "--client-id", client, "--as-of-time", "2024-06-30", "--json")
    assert "positions" not in json.loads(empty.stdout), empty.stderr  # as recorded then: nothing yet
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    as_of = run(cli, "data-mesh", "get-portfolio-as-of", "--client-id", client, "--as-of-time", now, "--json")
    assert [p["quantity"] for p in json.loads(as_of.stdout)["positions"]] == ["15"], as_of.stderr
    # A repeated message option, and a map option (KEY=VALUE, repeated).
    published = run(cli, "positions", "publish-prices", "--prices", '{"ticker": "TYPA", "price": "130"}', "--json")
    assert json.loads(published.stdout) == {"positionsRevalued": 1}, published.stderr
    plan = run(cli, "rebalance", "plan-rebalancing", "--client-id", client, "--target-weights", "TYPA=0.5", "--target-weights", "CASHX=0.5",
               "--prices", "CASHX=1", "--strategy", "threshold", "--band", '{"absolute": "0.01"}', "--json")
    assert plan.returncode == 0, plan.stderr
    trades = json.loads(plan.stdout)["trades"]
    assert {(t["side"], t["ticker"]) for t in trades} == {("SELL", "TYPA"), ("BUY", "CASHX")}
    # A repeated enum option.
    events = run(cli, "positions", "list-events", "--client-id", client, "--event-types", "position_opened", "--json")
    assert {e["eventType"] for e in json.loads(events.stdout)["events"]} == {"POSITION_OPENED"}
    # A server stream: one line per message; the last carries the result.
    prices = [str(100 + (i % 7) - (i % 3)) for i in range(40)]
    training = run(cli, "agent", "train-policy", "--histories", json.dumps({"ticker": "AA", "prices": prices}),
                   "--histories", json.dumps({"ticker": "BB", "prices": list(reversed(prices))}), "--episodes", "2", "--seed", "7")
    assert training.returncode == 0, training.stderr
    lines = training.stdout.strip().splitlines()
    assert lines[0].startswith("episode=") and re.search(r"result\.policyId=pol-[0-9a-f]{24}", lines[-1]), lines


def test_typed_command_errors_name_the_option(cli):
    client = "cbad-" + uuid.uuid4().hex[:8]
    cases = [
        (["cost-basis", "sell-lots", "--client-id", client, "--method", "sometimes"], "--method is one of"),
        (["positions", "open-position", "--client-id", client, "--max-lots", "many"], "--max-lots: must be an integer"),
        (["positions", "open-position", "--max-lots", "99999999999"], "--max-lots: is out of range"),
        (["cost-basis", "sell-lots", "--lot-selections", "{not json"], "--lot-selections:"),
        (["rebalance", "plan-rebalancing", "--target-weights", "NOEQUALS"], "--target-weights takes KEY=VALUE"),
        (["rebalance", "plan-rebalancing", "--target-weights", "A=1", "--target-weights", "A=2"], "names A twice"),
        (["positions", "get-position", "--request", "[1]"], "--request must be a JSON object"),
        (["positions", "get-position", "--request", '{"positionId": "x", "position_id": "y"}'], "is given twice (by its JSON name and its proto name)"),
        (["positions", "open-position", "--trade-time", "yesterday"], "--trade-time:"),
        (["positions", "get-position", "--request", "@/nonexistent/request.json"], "cannot read"),
    ]
    for arguments, message in cases:
        answer = run(cli, *arguments)
        assert answer.returncode == 64 and message in answer.stderr, (arguments, answer.returncode, answer.stderr)
        assert answer.stderr.startswith("holdings: ") and "Usage:" not in answer.stderr, answer.stderr  # one line, no usage text
    shape = run(cli, "positions", "open-position", "--no-such-option")  # the command line's shape: usage shown
    assert shape.returncode == 64 and "Unknown option '--no-such-option'" in shape.stderr and "Usage: holdings positions open-position" in shape.stderr
    refused = run(cli, "positions", "open-position", "--client-id", client, "--ticker", "X", "--quantity=-1", "--price", "1")
    assert refused.returncode == 3 and "INVALID_ARGUMENT" in refused.stderr and "quantity" in refused.stderr
    missing = run(cli, "positions", "get-position", "--position-id", "pos-nope")
    assert missing.returncode == 5
    overridden = run(cli, "positions", "get-position", "--request", '{"position_id": "pos-x"}', "--position-id", "pos-y")
    assert overridden.returncode == 5 and "pos-y" in overridden.stderr, overridden.stderr  # the option wins
    assert run(cli, "positions", "get-position").returncode == 3  # no id: the server's INVALID_ARGUMENT


def tty(cli, *arguments):
    """Runs the CLI under a pseudo-terminal (script(1)); bytes, to keep the carriage returns."""
    command = " ".join([binary("holdings"), *arguments, "--server", cli["address"], "--token-file", cli["token_file"]])
    return subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, timeout=120)


def test_price_batches_training_and_event_replay_show_progress(cli):
    client = "clong-" + uuid.uuid4().hex[:8]
    for ticker in ("LONA", "LONB"):
        assert run(cli, "positions", "open", "--client", client, "--ticker", ticker, "--qty", "10", "--price", "10").returncode == 0
    prices = cli["dir"] / f"prices-{client}.csv"
    prices.write_text("date,ticker,price\n2026-01-05,LONA,11\n2026-01-05,LONB,21\n2026-01-06,LONA,12\n2026-01-06,LONB,22\n"
                      "2026-01-07,LONA,13\n2026-01-07,LONB,23\n2026-01-07,LONZ,5\n")
    published = run(cli, "prices", "publish", str(prices), "--batch", "2")
    assert published.returncode == 0, published.stderr
    steps = [line for line in published.stdout.splitlines() if re.match(r"^\d+/7 ", line)]
    assert [s.split()[0] for s in steps] == ["2/7", "4/7", "6/7", "7/7"]
    assert "in 4 batches" in published.stdout and "LONZ" in published.stdout
    positions = {p.ticker: p for p in cli["holdings"].ListPositions(pb.ListPositionsRequest(client_id=client), timeout=10).positions}
    assert positions["LONA"].last_price == "13" and positions["LONB"].market_value == "230"
    events = lambda: len(cli["holdings"].ListEvents(pb.ListEventsRequest(client_id=client, page_size=1000), timeout=10).events)
    recorded = events()
    assert run(cli, "prices", "publish", str(prices), "--batch", "2").returncode == 0 and events() == recorded  # idempotent
    bar = tty(cli, "prices", "publish", str(prices), "--batch", "3")
    assert bar.returncode == 0 and b"\r[" in bar.stdout and b"] 7/7" in bar.stdout, bar.stdout
    bad = cli["dir"] / "bad-prices.csv"
    bad.write_text("ticker,price\nLONA,-3\n")
    refused = run(cli, "prices", "publish", str(bad))
    assert refused.returncode == 64 and "line 2" in refused.stderr

    # Training from a CSV of prices: progress per episode, the result, then the same policy again.
    history = cli["dir"] / "history.csv"
    rows = ["date,AAA,BBB"] + [f"2025-01-{i % 28 + 1:02d},{100 + (i * 7) % 11},{50 + (i * 5) % 13}" for i in range(60)]
    history.write_text("\n".join(rows) + "\n")
    trained = run(cli, "agent", "train", str(history), "--episodes", "4", "--seed", "3")
    assert trained.returncode == 0, trained.stderr
    assert [l.split()[0] for l in trained.stdout.splitlines() if re.match(r"^\d/4 ", l)][-1] == "4/4"
    policy = re.search(r"policy (pol-[0-9a-f]{24})", trained.stdout).group(1)
    agent = M["agent_pb2"]
    stub = M["agent_pb2_grpc"].AgentServiceStub(holdings_channel(cli["address"]))
    request = agent.TrainPolicyRequest(episodes=4, seed=3, request_id=uuid.uuid4().hex, histories=[
        agent.PriceHistory(ticker="AAA", prices=[str(100 + (i * 7) % 11) for i in range(60)]),
        agent.PriceHistory(ticker="BBB", prices=[str(50 + (i * 5) % 13) for i in range(60)])])
    last = list(stub.TrainPolicy(request, timeout=60))[-1]
    assert last.result.policy_id == policy and last.result.replayed
    again = tty(cli, "agent", "train", str(history), "--episodes", "4", "--seed", "3")
    assert again.returncode == 0 and policy.encode() in again.stdout

    # Replaying a client's events: every event as a JSON line, progress on stderr.
    out = cli["dir"] / f"events-{client}.ndjson"
    exported = run(cli, "events", "export", "--client", client, "--out", str(out), "--page-size", "2")
    assert exported.returncode == 0, exported.stderr
    lines = out.read_text().splitlines()
    listed = cli["holdings"].ListEvents(pb.ListEventsRequest(client_id=client, page_size=1000), timeout=10).events
    assert [json_format.Parse(line, M["events_pb2"].Event()) for line in lines] == list(listed)
    assert f"{len(listed)} events" in exported.stderr
    assert run(cli, "events", "export").returncode == 64
