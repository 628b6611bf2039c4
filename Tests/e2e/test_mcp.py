"""holdings-mcp end to end with the Python `mcp` client, over stdio and streamable HTTP:
the tool list and its schemas (valid JSON Schema, annotations), a call of each of the ten
tools against a real holdingsd (answers checked against gRPC), structured content that
validates against each tool's output schema, read-only by default, bounded answers, and
bad arguments answered with a tool error naming the field while the server keeps serving."""
import asyncio
import os
import re
import subprocess
import uuid

import jsonschema
import pytest
from conftest import binary, holdingsd_command, holdings_channel, start, stop, token

import samples

M = samples.holdings_modules()
pb = M["holdings_pb2"]
TOOLS = {"get_positions", "get_position", "open_position", "close_position", "get_portfolio_value", "get_performance",
         "assess_risk", "propose_rebalance", "execute_rebalance", "get_service_status"}
WRITES = {"open_position", "close_position", "execute_rebalance"}


@pytest.fixture(scope="module")
def backend(postgres, tmp_path_factory):
    process, address = start(holdingsd_command(postgres.new_database(), "--no-agent"))
    token_file = tmp_path_factory.mktemp("mcp") / "token"
    token_file.write_text(token("admin"))
    yield {"address": address, "token_file": str(token_file), "grpc": M["holdings_pb2_grpc"].HoldingsServiceStub(holdings_channel(address))}
    stop(process)


def mcp_command(backend, *extra):
    return [binary("holdings-mcp"), "--server", backend["address"], "--token-file", backend["token_file"], *extra]


async def with_stdio(backend, body, *extra):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    command = mcp_command(backend, *extra)
    parameters = StdioServerParameters(command=command[0], args=command[1:])
    async with stdio_client(parameters) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await body(session)


async def with_http(url, body):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    async with streamable_http_client(url) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            return await body(session)


async def exercise(session, backend, writes):
    """Lists and checks the tools, then calls each one; returns the names called."""
    listed = (await session.list_tools()).tools
    names = {t.name for t in listed}
    assert names == (TOOLS if writes else TOOLS - WRITES)
    for tool in listed:
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        jsonschema.Draft202012Validator.check_schema(tool.output_schema)
        assert tool.input_schema["type"] == "object" and tool.input_schema["additionalProperties"] is False
        assert len(tool.description) <= 140, tool.name
        assert tool.annotations.read_only_hint == (tool.name not in WRITES)
        if tool.name in WRITES:
            assert tool.annotations.idempotent_hint and "idempotency_key" in tool.input_schema["required"]
    schemas = {t.name: t.output_schema for t in listed}

    async def call(name, **arguments):
        result = await session.call_tool(name, arguments)
        assert not result.is_error, (name, result.content[0].text)
        jsonschema.validate(result.structured_content, schemas[name])
        assert len(result.content[0].text) <= 20_000 + 200
        return result.structured_content

    client = "mcp-" + uuid.uuid4().hex[:8]
    called = set()
    status = await call("get_service_status")
    assert status["services"]["server"] == "SERVING" and status["writesEnabled"] == writes
    called.add("get_service_status")
    # Data to read: bought over gRPC (or through the tool when writes are on).
    position_ids = []
    for i, ticker in enumerate(("MCPA", "MCPB")):
        if writes:
            key = uuid.uuid4().hex
            opened = await call("open_position", client_id=client, ticker=ticker, quantity="10", price=str(100 + i), idempotency_key=key)
            again = await call("open_position", client_id=client, ticker=ticker, quantity="10", price=str(100 + i), idempotency_key=key)
            assert opened == again  # the retry changes nothing
            position_ids.append(opened["position"]["positionId"])
            called.add("open_position")
        else:
            answer = backend["grpc"].OpenPosition(pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity="10", price=str(100 + i)), timeout=10)
            position_ids.append(answer.position.position_id)
    positions = await call("get_positions", client_id=client)
    assert sorted(p["positionId"] for p in positions["positions"]) == sorted(position_ids)
    one = await call("get_position", position_id=position_ids[0], max_lots=1)
    grpc_one = backend["grpc"].GetPosition(pb.GetPositionRequest(position_id=position_ids[0], max_lots=1), timeout=10)
    assert one["position"]["quantity"] == grpc_one.position.quantity and one["position"]["costBasis"] == grpc_one.position.cost_basis
    value = await call("get_portfolio_value", client_id=client)
    grpc_value = backend["grpc"].GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client), timeout=10)
    assert value["costBasis"] == grpc_value.cost_basis and value["marketValue"] == grpc_value.market_value
    called |= {"get_positions", "get_position", "get_portfolio_value"}
    # Performance and risk need a valuation history: price the positions a few times.
    for price in ("101", "99", "104", "103", "107", "106"):
        for pid in position_ids:
            backend["grpc"].UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=pid, price=price), timeout=10)
    performance = await call("get_performance", client_id=client, periods_per_year=252)
    assert "totalReturn" in performance["performance"] and "sharpe" in performance["sharpe"]
    risk = await call("assess_risk", client_id=client, confidence="0.95")
    assert "riskLevel" in risk
    plan = await call("propose_rebalance", client_id=client, target_weights={"MCPA": "0.3", "MCPB": "0.7"}, band="0.01")
    assert plan["planId"] and plan["trades"]
    called |= {"get_performance", "assess_risk", "propose_rebalance"}
    if writes:
        done = await call("execute_rebalance", client_id=client, plan_id=plan["planId"], idempotency_key=uuid.uuid4().hex)
        assert done["rebalancingId"]
        closed = await call("close_position", position_id=position_ids[0], price="110", method="HIFO", idempotency_key=uuid.uuid4().hex)
        assert closed["position"]["status"] == "POSITION_STATUS_CLOSED"
        called |= {"execute_rebalance", "close_position"}
    else:
        refused = await session.call_tool("open_position", {"client_id": client, "ticker": "X", "quantity": "1", "price": "1",
                                                             "idempotency_key": "k"})
        assert refused.is_error and "--allow-writes" in refused.content[0].text
    # Bad arguments: a tool error naming the field, never a crash.
    for name, arguments, words in (
        ("get_positions", {}, "client_id is required"),
        ("get_positions", {"client_id": 7}, "client_id must be a string"),
        ("get_positions", {"client_id": client, "colour": "red"}, "colour is not a parameter"),
        ("get_position", {"position_id": "p", "max_lots": 0}, "max_lots must be from 1"),
        ("get_performance", {"client_id": client, "risk_free_rate": "a lot"}, "risk_free_rate must be a decimal string"),
        ("propose_rebalance", {"client_id": client, "target_weights": {"MCPA": 0.3}}, "target_weights.MCPA must be a decimal string"),
        ("get_position", {"position_id": "no-such-" + uuid.uuid4().hex}, "NOT_FOUND"),
        ("no_such_tool", {}, "unknown tool"),
    ):
        result = await session.call_tool(name, arguments)
        assert result.is_error and words in result.content[0].text, (name, result.content[0].text)
    assert (await call("get_service_status"))["services"]["server"] == "SERVING"
    return called


def test_stdio_read_only_by_default(backend):
    called = asyncio.run(with_stdio(backend, lambda s: exercise(s, backend, writes=False)))
    assert called == TOOLS - WRITES


def test_stdio_with_writes_calls_all_ten_tools(backend):
    called = asyncio.run(with_stdio(backend, lambda s: exercise(s, backend, writes=True), "--allow-writes"))
    assert called == TOOLS


def test_streamable_http_with_writes_and_bounded_answers(backend):
    process, _ = start(mcp_command(backend, "--transport", "http", "--http-port", "0", "--allow-writes"))
    try:
        url = re.search(r"\((http://\S+/mcp)\)", "".join(process.output)).group(1)
        called = asyncio.run(with_http(url, lambda s: exercise(s, backend, writes=True)))
        assert called == TOOLS
        import urllib.error
        import urllib.request
        huge = urllib.request.Request(url, data=b" " * (2 << 20), method="POST",
                                      headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(huge, timeout=30)
        assert refused.value.code == 413
        assert process.poll() is None
    finally:
        stop(process)
    # A small cap on characters truncates the text, and says so.
    process, _ = start(mcp_command(backend, "--transport", "http", "--http-port", "0", "--max-chars", "1000", "--max-rows", "2"))
    try:
        url = re.search(r"\((http://\S+/mcp)\)", "".join(process.output)).group(1)
        client = "mcpcap-" + uuid.uuid4().hex[:6]
        for ticker in ("CAPA", "CAPB", "CAPC"):
            backend["grpc"].OpenPosition(pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity="1", price="1"), timeout=10)

        async def capped(session):
            result = await session.call_tool("get_positions", {"client_id": client})
            assert not result.is_error
            assert len(result.structured_content["positions"]) == 2 and result.structured_content["nextPageToken"]
            assert "truncated at 1000" in result.content[0].text
        asyncio.run(with_http(url, capped))
    finally:
        stop(process)
