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
