"""The REST/JSON routes (google.api.http) and the Connect protocol, end to end: every route
of the seed's list answered over HTTP/1.1 (urllib, as curl would) and with Python
`connectrpc`, equal to the gRPC answer for the same request; writes compared through their
idempotency keys (the retry over the other protocol returns the first outcome); server
streaming as NDJSON and Connect streaming; HTTP/2 with prior knowledge; OpenAPI validated;
bad input answered with Connect-style errors while the server keeps serving."""
import gzip
import http.client
import json
import re
import uuid

import grpc
import pytest
from conftest import holdings_channel, holdingsd_command, start, stop, token
from google.protobuf import json_format

import samples
from test_trust import wait_for

M = samples.holdings_modules()
pb, cb, rb, an, ag, dm, ev, common = (M[n] for n in (
    "holdings_pb2", "cost_basis_pb2", "rebalancing_pb2", "analytics_pb2", "agent_pb2", "data_mesh_pb2", "events_pb2", "common_pb2"))


@pytest.fixture(scope="module")
def gw(postgres):
    process, address = start(holdingsd_command(postgres.new_database(), "--no-agent", "--http-port", "0", "--http2-port", "0"))
    wait_for(lambda: "HTTP/2 (prior knowledge) REST and Connect" in "".join(process.output))
    output = "".join(process.output)
    http1 = re.search(r"HTTP/1\.1 REST and Connect on http://([0-9.]+):(\d+)", output)
    http2 = re.search(r"HTTP/2 \(prior knowledge\) REST and Connect on http://([0-9.]+):(\d+)", output)
    channel = holdings_channel(address)
    stubs = {
        "holdings": M["holdings_pb2_grpc"].HoldingsServiceStub(channel),
        "costs": M["cost_basis_pb2_grpc"].CostBasisServiceStub(channel),
        "analytics": M["analytics_pb2_grpc"].AnalyticsServiceStub(channel),
        "rebalancing": M["rebalancing_pb2_grpc"].RebalancingServiceStub(channel),
        "agent": M["agent_pb2_grpc"].AgentServiceStub(channel),
        "mesh": M["data_mesh_pb2_grpc"].DataMeshServiceStub(channel),
    }
    yield {"process": process, "host": http1.group(1), "port": int(http1.group(2)), "port2": int(http2.group(2)),
           "token": token("admin"), "grpc": stubs}
    stop(process)


def call(gw, verb, path, body=None, headers=None, bearer=True, raw=None):
    """One HTTP/1.1 request; returns (status, headers, parsed JSON or text)."""
    connection = http.client.HTTPConnection(gw["host"], gw["port"], timeout=30)
    sent = dict(headers or {})
    if bearer:
        sent.setdefault("Authorization", f"Bearer {gw['token']}")
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
    connection.request(verb, path, body=data, headers=sent)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return response.status, dict(response.getheaders()), parsed


def as_json(message):
    return json.loads(json_format.MessageToJson(message))


def connect_client(gw, json_codec=True):
    from connectrpc.client import ConnectClientSync
    from connectrpc.compat import google_protobuf_binary_codec, google_protobuf_json_codec
    codec = google_protobuf_json_codec(ignore_unknown_fields=False) if json_codec else google_protobuf_binary_codec()
    return ConnectClientSync(f"http://{gw['host']}:{gw['port']}", codec=codec)


def connect_call(gw, service, method, request, response_type, json_codec=True, use_get=False, headers=None, safe=False):
    from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
    info = MethodInfo(name=method, service_name=f"ultracore.holdings.v1.{service}", input=type(request), output=response_type,
                      stream_type=StreamType.UNARY,
                      idempotency_level=IdempotencyLevel.NO_SIDE_EFFECTS if safe else IdempotencyLevel.UNKNOWN)
    sent = {"authorization": f"Bearer {gw['token']}"}
    sent.update(headers or {})
    with connect_client(gw, json_codec) as client:
        return client.execute_unary(request=request, method=info, headers=sent, use_get=use_get)


def series(values):
    return an.SeriesInput(values=an.ValueSeries(values=list(values)))


def test_every_seed_route_answers_over_http1_and_connect_as_grpc_does(gw):
    g = gw["grpc"]
    client = "gw-" + uuid.uuid4().hex[:8]
    tick = "G" + uuid.uuid4().hex[:4].upper()
    other = "H" + uuid.uuid4().hex[:4].upper()
    compared = []

    def same_write(verb, path, body, grpc_call, request, connect=True):
        """A write over REST with a request id; the same request over gRPC is a retry that
        returns the first outcome, which must equal the REST answer. Then the same write with
        another request id over Connect (connectrpc), compared with its gRPC retry too."""
        status, _, answer = call(gw, verb, path, body)
        assert status == 200, (path, answer)
        assert answer == as_json(grpc_call(request, timeout=30)), path
        if connect:
            service, method = grpc_call._method.decode().strip("/").split("/")
            again = type(request)()
            again.CopyFrom(request)
            again.request_id = uuid.uuid4().hex
            response_type = type(grpc_call(again, timeout=30))  # the first outcome of `again`, recorded over gRPC...
            retried = connect_call(gw, service.split(".")[-1], method, again, response_type)  # ...is what Connect's retry gets
            assert as_json(retried) == as_json(grpc_call(again, timeout=30)), path
            third = type(request)()
            third.CopyFrom(request)
            third.request_id = uuid.uuid4().hex
            first = connect_call(gw, service.split(".")[-1], method, third, response_type, json_codec=False)
            assert as_json(first) == as_json(grpc_call(third, timeout=30)), path  # a Connect write, retried over gRPC
        compared.append(path)
        return answer

    def same_read(path, grpc_call, request, service=None, method=None, safe=True):
        status, _, answer = call(gw, "GET" if "?" in path or not isinstance(request, tuple) else "POST", path)
        assert status == 200, (path, answer)
        expected = as_json(grpc_call(request, timeout=30))
        assert answer == expected, path
        if service:
            response_type = type(grpc_call(request, timeout=30))
            assert as_json(connect_call(gw, service, method, request, response_type)) == expected
            assert as_json(connect_call(gw, service, method, request, response_type, json_codec=False)) == expected
            if safe:
                assert as_json(connect_call(gw, service, method, request, response_type, use_get=True, safe=True)) == expected
        compared.append(path)
        return answer

    # positions: open (twice, two tickers), get, value, reconstruct, close
    rid = uuid.uuid4().hex
    opened = same_write("POST", "/api/v1/holdings/positions/open",
                        {"clientId": client, "ticker": tick, "quantity": "10", "price": "100.25", "requestId": rid},
                        g["holdings"].OpenPosition, pb.OpenPositionRequest(client_id=client, ticker=tick, quantity="10", price="100.25", request_id=rid))
    position = opened["position"]["positionId"]
    rid = uuid.uuid4().hex
    same_write("POST", "/api/v1/holdings/positions/open",
               {"client_id": client, "ticker": tick, "quantity": "5", "price": "90", "request_id": rid},
               g["holdings"].OpenPosition, pb.OpenPositionRequest(client_id=client, ticker=tick, quantity="5", price="90", request_id=rid))
    rid = uuid.uuid4().hex
    second = same_write("POST", "/api/v1/holdings/positions/open",
                        {"clientId": client, "ticker": other, "quantity": "4", "price": "50", "requestId": rid},
                        g["holdings"].OpenPosition, pb.OpenPositionRequest(client_id=client, ticker=other, quantity="4", price="50", request_id=rid))
    same_read(f"/api/v1/holdings/positions/{position}", g["holdings"].GetPosition, pb.GetPositionRequest(position_id=position),
              "HoldingsService", "GetPosition")
    rid = uuid.uuid4().hex
    same_write("POST", f"/api/v1/holdings/positions/{position}/value", {"price": "110", "requestId": rid},
               g["holdings"].UpdatePositionValue, pb.UpdatePositionValueRequest(position_id=position, price="110", request_id=rid))
    same_read(f"/api/v1/holdings/positions/{position}/reconstruct?as_of_version=1", g["holdings"].ReconstructPosition,
              pb.ReconstructPositionRequest(position_id=position, as_of_version=1), "HoldingsService", "ReconstructPosition")
    # portfolio: positions, value, monitor
    same_read(f"/api/v1/holdings/portfolio/{client}/positions?include_closed=true&pageSize=10", g["holdings"].ListPositions,
              pb.ListPositionsRequest(client_id=client, include_closed=True, page_size=10), "HoldingsService", "ListPositions")
    same_read(f"/api/v1/holdings/portfolio/{client}/value", g["holdings"].GetPortfolioValue,
              pb.GetPortfolioValueRequest(client_id=client), "HoldingsService", "GetPortfolioValue")
    status, _, monitored = call(gw, "POST", f"/api/v1/holdings/portfolio/{client}/monitor", {"targetWeights": {tick: "0.5", other: "0.5"}})
    expected = as_json(g["holdings"].MonitorPortfolio(
        pb.MonitorPortfolioRequest(client_id=client, target_weights={tick: "0.5", other: "0.5"}), timeout=10))
    assert status == 200 and monitored.pop("assessedAt") and expected.pop("assessedAt")  # the time of each assessment
    assert monitored == expected
    compared.append("monitor")
    # cost basis: summary, unrealized, tax-loss-harvest, sell (dry run and real), realized
    same_read(f"/api/v1/holdings/cost-basis/{client}/summary?ticker={tick}", g["costs"].GetCostBasisSummary,
              cb.GetCostBasisSummaryRequest(client_id=client, ticker=tick), "CostBasisService", "GetCostBasisSummary")
    same_read(f"/api/v1/holdings/cost-basis/{client}/unrealized-gl", g["costs"].GetUnrealizedGainLoss,
              cb.GetUnrealizedGainLossRequest(client_id=client), "CostBasisService", "GetUnrealizedGainLoss")
    same_read(f"/api/v1/holdings/cost-basis/{client}/tax-loss-harvest?min_loss=0.01", g["costs"].GetTaxLossHarvestCandidates,
              cb.GetTaxLossHarvestCandidatesRequest(client_id=client, min_loss="0.01"), "CostBasisService", "GetTaxLossHarvestCandidates")
    for method in ("FIFO", "HIFO"):
        rid = uuid.uuid4().hex
        same_write("POST", "/api/v1/holdings/cost-basis/sell",
                   {"clientId": client, "ticker": tick, "quantity": "1", "price": "120", "method": method, "requestId": rid},
                   g["costs"].SellLots, cb.SellLotsRequest(client_id=client, ticker=tick, quantity="1", price="120",
                                                           method=common.CostBasisMethod.Value(method), request_id=rid))
    same_read(f"/api/v1/holdings/cost-basis/{client}/realized-gains", g["costs"].GetRealizedGains,
              cb.GetRealizedGainsRequest(client_id=client), "CostBasisService", "GetRealizedGains")
    # analytics
    values = ["100", "104", "101", "108", "103", "111"]
    for route, rpc, request_type in (("performance", "ComputePerformance", an.ComputePerformanceRequest),
                                     ("sharpe", "ComputeSharpe", an.ComputeSharpeRequest),
                                     ("max-drawdown", "ComputeMaxDrawdown", an.ComputeMaxDrawdownRequest)):
        request = request_type(series=series(values))
        status, _, answer = call(gw, "POST", f"/api/v1/holdings/analytics/{route}", as_json(request))
        expected = as_json(getattr(g["analytics"], rpc)(request, timeout=10))
        assert status == 200 and answer == expected, (route, answer)
        assert as_json(connect_call(gw, "AnalyticsService", rpc, request, type(getattr(g["analytics"], rpc)(request, timeout=10)))) == expected
        compared.append(route)
    request = an.ComputeAlphaBetaRequest(series=an.SeriesInput(returns=an.ReturnSeries(returns=[0.01, -0.02, 0.03, 0.01])),
                                         benchmark=an.SeriesInput(returns=an.ReturnSeries(returns=[0.02, -0.01, 0.02, 0.0])))
    status, _, answer = call(gw, "POST", "/api/v1/holdings/analytics/alpha-beta", as_json(request))
    assert status == 200 and answer == as_json(g["analytics"].ComputeAlphaBeta(request, timeout=10))
    compared.append("alpha-beta")
    # rebalancing: evaluate, plan, execute (dry run, then for real with an idempotency key), schedule
    targets = {tick: "0.5", other: "0.5"}
    rid = uuid.uuid4().hex
    same_write("POST", "/api/v1/holdings/rebalancing/evaluate",
               {"clientId": client, "targetWeights": targets, "strategy": "THRESHOLD", "band": {"absolute": "0.01"}, "requestId": rid},
               g["rebalancing"].EvaluateRebalancing,
               rb.EvaluateRebalancingRequest(client_id=client, target_weights=targets, strategy=ev.THRESHOLD,
                                             band=ev.DriftBand(absolute="0.01"), request_id=rid))
    status, _, plan = call(gw, "POST", "/api/v1/holdings/rebalancing/plan",
                           {"clientId": client, "targetWeights": targets, "strategy": "THRESHOLD", "band": {"absolute": "0.01"}})
    assert status == 200 and plan["planId"], plan
    status, _, dry = call(gw, "POST", "/api/v1/holdings/rebalancing/execute", {"clientId": client, "planId": plan["planId"], "dryRun": True})
    assert status == 200, dry
    rid = uuid.uuid4().hex
    same_write("POST", "/api/v1/holdings/rebalancing/execute", {"clientId": client, "planId": plan["planId"], "requestId": rid},
               g["rebalancing"].ExecuteRebalancing, rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan["planId"], request_id=rid),
               connect=False)
    # A plan and its execution over Connect, the execution retried over gRPC.
    plan_request = rb.PlanRebalancingRequest(client_id=client, target_weights={tick: "0.6", other: "0.4"}, strategy=ev.THRESHOLD,
                                             band=ev.DriftBand(absolute="0.01"))
    connect_plan = connect_call(gw, "RebalancingService", "PlanRebalancing", plan_request, rb.PlanRebalancingResponse)
    assert connect_plan.plan_id and connect_plan.trades
    execute = rb.ExecuteRebalancingRequest(client_id=client, plan_id=connect_plan.plan_id, request_id=uuid.uuid4().hex)
    executed = connect_call(gw, "RebalancingService", "ExecuteRebalancing", execute, rb.ExecuteRebalancingResponse)
    assert executed.rebalancing_id and as_json(executed) == as_json(g["rebalancing"].ExecuteRebalancing(execute, timeout=30))
    rid = uuid.uuid4().hex
    same_write("POST", "/api/v1/holdings/rebalancing/schedule",
               {"clientId": client, "cadence": "MONTHLY", "strategy": "THRESHOLD", "targetWeights": targets,
                "band": {"absolute": "0.05"}, "enabled": True, "requestId": rid},
               g["rebalancing"].ScheduleRebalancing,
               rb.ScheduleRebalancingRequest(client_id=client, cadence=ev.MONTHLY, strategy=ev.THRESHOLD, target_weights=targets,
                                             band=ev.DriftBand(absolute="0.05"), enabled=True, request_id=rid))
    # close the second position (a write with no request id: compared with the position gRPC reads after)
    status, _, closed = call(gw, "POST", f"/api/v1/holdings/positions/{second['position']['positionId']}/close",
                             {"price": "55", "method": "FIFO"})
    assert status == 200, closed
    after = as_json(g["holdings"].GetPosition(pb.GetPositionRequest(position_id=second["position"]["positionId"]), timeout=10))
    assert closed["position"]["status"] == after["position"]["status"] == "POSITION_STATUS_CLOSED"
    # events, agent and data mesh routes the seed does not list
    same_read(f"/api/v1/holdings/events?clientId={client}&page_size=100&event_types=POSITION_OPENED&event_types=LOTS_SOLD",
              g["holdings"].ListEvents, pb.ListEventsRequest(client_id=client, page_size=100, event_types=[ev.POSITION_OPENED, ev.LOTS_SOLD]),
              "HoldingsService", "ListEvents")
    same_read(f"/api/v1/holdings/agent/{client}/alerts", g["agent"].ListAlerts, ag.ListAlertsRequest(client_id=client),
              "AgentService", "ListAlerts")
    same_read("/api/v1/holdings/data-mesh/products", g["mesh"].ListDataProducts, dm.ListDataProductsRequest(),
              "DataMeshService", "ListDataProducts")
    assert len(compared) >= 24


def test_server_streaming_as_ndjson_and_connect_streaming(gw):
    client = "gs-" + uuid.uuid4().hex[:8]
    for i in range(3):
        status, _, _ = call(gw, "POST", "/api/v1/holdings/positions/open",
                            {"clientId": client, "ticker": f"S{i}", "quantity": "1", "price": "10"})
        assert status == 200
    # NDJSON over REST: WatchEvents replays then waits; the deadline ends it with an error line.
    connection = http.client.HTTPConnection(gw["host"], gw["port"], timeout=30)
    connection.request("GET", f"/api/v1/holdings/events/watch?client_id={client}&replay_from_start=true",
                       headers={"Authorization": f"Bearer {gw['token']}", "Connect-Timeout-Ms": "1500"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "application/x-ndjson"
    lines = [json.loads(line) for line in response.read().decode().splitlines() if line]
    results = [line["result"] for line in lines if "result" in line]
    assert [r["event"]["eventType"] for r in results][:3] == ["POSITION_OPENED"] * 3
    assert lines[-1]["error"]["code"] == "deadline_exceeded"
    # Connect streaming with connectrpc.
    from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
    info = MethodInfo(name="WatchEvents", service_name="ultracore.holdings.v1.HoldingsService", input=pb.WatchEventsRequest,
                      output=pb.WatchEventsResponse, stream_type=StreamType.SERVER_STREAM,
                      idempotency_level=IdempotencyLevel.NO_SIDE_EFFECTS)
    seen = []
    from connectrpc.errors import ConnectError
    with connect_client(gw) as c:
        with pytest.raises(ConnectError) as failure:
            for message in c.execute_server_stream(request=pb.WatchEventsRequest(client_id=client, replay_from_start=True),
                                                   method=info, headers={"authorization": f"Bearer {gw['token']}"}, timeout_ms=1500):
                seen.append(message)
    assert [m.event.event_type for m in seen][:3] == [ev.POSITION_OPENED] * 3
    assert "deadline" in str(failure.value.code).lower()


def test_http2_prior_knowledge_serves_rest_and_connect(gw):
    import h2.config
    import h2.connection
    import h2.events
    import socket
    sock = socket.create_connection((gw["host"], gw["port2"]), timeout=10)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    body = json.dumps({}).encode()
    conn.send_headers(1, [(":method", "GET"), (":path", "/api/v1/holdings/data-mesh/products"), (":scheme", "http"),
                          (":authority", "localhost"), ("authorization", f"Bearer {gw['token']}")], end_stream=True)
    conn.send_headers(3, [(":method", "POST"), (":path", "/ultracore.holdings.v1.DataMeshService/ListDataProducts"), (":scheme", "http"),
                          (":authority", "localhost"), ("authorization", f"Bearer {gw['token']}"), ("content-type", "application/json"),
                          ("connect-protocol-version", "1")])
    conn.send_data(3, body, end_stream=True)
    sock.sendall(conn.data_to_send())
    answers, statuses, done = {1: b"", 3: b""}, {}, set()
    while len(done) < 2:
        data = sock.recv(65536)
        assert data, "connection closed"
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                statuses[event.stream_id] = dict(event.headers)[b":status"]
            elif isinstance(event, h2.events.DataReceived):
                answers[event.stream_id] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                done.add(event.stream_id)
        sock.sendall(conn.data_to_send())
    sock.close()
    assert statuses == {1: b"200", 3: b"200"}
    expected = as_json(gw["grpc"]["mesh"].ListDataProducts(dm.ListDataProductsRequest(), timeout=10))
    assert json.loads(answers[1]) == json.loads(answers[3]) == expected


def test_openapi_document_is_valid_and_lists_every_route(gw):
    from openapi_spec_validator import validate
    status, headers, document = call(gw, "GET", "/openapi.json", bearer=False)
    assert status == 200 and headers["Content-Type"] == "application/json"
    validate(document)
    declared = []
    for path in sorted(__import__("glob").glob(samples.ROOT + "/proto/ultracore/holdings/v1/*.proto")):
        text = open(path).read()
        declared += re.findall(r'\b(get|post|put|delete|patch): "([^"]+)"', text)
    assert len(declared) == 39
    for verb, path in declared:
        assert verb in document["paths"][path], (verb, path)
    assert document["paths"]["/api/v1/holdings/positions/{position_id}"]["get"]["parameters"][0]["name"] == "position_id"
    assert "ultracore.holdings.v1.Position" in document["components"]["schemas"]


def test_bad_input_gets_connect_errors_and_the_server_keeps_serving(gw):
    client = "gb-" + uuid.uuid4().hex[:8]
    cases = [
        ("POST", "/api/v1/holdings/positions/open", None, b'{"clientId": "c1", ', 400, "invalid_argument", "not valid JSON"),
        ("POST", "/api/v1/holdings/positions/open", None, b'{"clientId": 7}', 400, "invalid_argument", "field clientId must be a string"),
        ("POST", "/api/v1/holdings/positions/open", None, b'{"clientId": "c1", "colour": "red"}', 400, "invalid_argument", "colour"),
        ("POST", "/api/v1/holdings/positions/open", None, b'{"clientId": "c1", "maxLots": 99999999999}', 400, "invalid_argument", "maxLots"),
        ("POST", "/api/v1/holdings/positions/open", None, b'{"clientId": "c1", "tradeTime": "yesterday"}', 400, "invalid_argument", "tradeTime"),
        ("POST", "/api/v1/holdings/positions/open", None, json.dumps({"clientId": client, "ticker": "bad ticker", "quantity": "1", "price": "1"}).encode(),
         400, "invalid_argument", "ticker"),
        ("GET", "/api/v1/holdings/positions/", None, None, 400, "invalid_argument", "empty"),
        ("GET", "/api/v1/holdings/positions/a%00b", None, None, 400, "invalid_argument", "U+0000"),
        ("POST", "/api/v1/holdings/positions/open", None, b'{"clientId": "c\\u0000d"}', 400, "invalid_argument", "U+0000"),
        ("GET", "/api/v1/holdings/portfolio/c1/positions?page_size=99999999999", None, None, 400, "invalid_argument", "out of range"),
        ("GET", "/api/v1/holdings/positions/nope-" + uuid.uuid4().hex, None, None, 404, "not_found", ""),
        ("GET", "/api/v1/holdings/positionz/x", None, None, 404, "unimplemented", "close routes"),
        ("DELETE", "/api/v1/holdings/positions/open", None, None, 405, "unimplemented", "POST"),
        ("GET", "/api/v1/holdings/portfolio/c1/value?bogus=1", None, None, 400, "invalid_argument", "bogus"),
        ("POST", "/api/v1/holdings/positions/open?clientId=c1", None, b"{}", 400, "invalid_argument", "reads no query parameters"),
        ("GET", "/api/v1/holdings/portfolio/c1/positions?include_closed=maybe", None, None, 400, "invalid_argument", "include_closed"),
        ("POST", "/ultracore.holdings.v1.HoldingsService/OpenPosition", {"Content-Type": "text/plain"}, b"{}", 415, "invalid_argument", "Content-Type"),
        ("GET", "/ultracore.holdings.v1.HoldingsService/OpenPosition?encoding=json&message={}", None, None, 405, "unimplemented", "side effects"),
        ("POST", "/ultracore.holdings.v1.HoldingsService/GetPosition", {"Connect-Timeout-Ms": "soon"}, b"{}", 400, "invalid_argument", "Connect-Timeout-Ms"),
    ]
    for verb, path, headers, raw, http_status, code, words in cases:
        status, _, answer = call(gw, verb, path, headers=headers, raw=raw)
        assert status == http_status, (verb, path, status, answer)
        assert answer["code"] == code and words in answer.get("message", ""), (verb, path, answer)
    # curl -d without -H: its form content type is read as JSON; text/plain is refused.
    body = json.dumps({"clientId": client, "ticker": "CURL", "quantity": "1", "price": "2"}).encode()
    status, _, answer = call(gw, "POST", "/api/v1/holdings/positions/open", raw=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and answer["position"]["ticker"] == "CURL", answer
    status, _, answer = call(gw, "POST", "/api/v1/holdings/positions/open", raw=body, headers={"Content-Type": "text/plain"})
    assert status == 415 and answer["code"] == "invalid_argument"
    # Unknown fields are skipped when asked.
    status, _, answer = call(gw, "POST", "/ultracore.holdings.v1.DataMeshService/ListDataProducts", raw=b'{"colour": "red"}',
                             headers={"X-Ignore-Unknown-Fields": "true"})
    assert status == 200 and answer["products"], answer
    status, _, answer = call(gw, "POST", "/ultracore.holdings.v1.DataMeshService/ListDataProducts", raw=b'{"colour": "red"}')
    assert status == 400 and "colour" in answer["message"]
    # No token: unauthenticated (401), like gRPC.
    status, _, answer = call(gw, "GET", "/api/v1/holdings/portfolio/c1/value", bearer=False)
    assert status == 401 and answer["code"] == "unauthenticated"
    # A reader of another client: permission denied (403), like gRPC.
    status, _, answer = call(gw, "GET", "/api/v1/holdings/portfolio/c1/value",
                             headers={"Authorization": f"Bearer {token('clients:read:someone-else', subject='other')}"}, bearer=False)
    assert status == 403 and answer["code"] == "permission_denied", answer
    # A huge body: 413.
    status, _, answer = call(gw, "POST", "/api/v1/holdings/positions/open", raw=b" " * (9 * 1024 * 1024))
    assert status == 413 and answer["code"] == "resource_exhausted"
    # A gzip bomb stops at the limit.
    bomb = gzip.compress(b"{" + b" " * (20 * 1024 * 1024) + b"}")
    status, _, answer = call(gw, "POST", "/ultracore.holdings.v1.HoldingsService/GetPosition", raw=bomb,
                             headers={"Content-Encoding": "gzip"})
    assert status == 413 and answer["code"] == "resource_exhausted"
    # Still serving, and the request id of a REST write is honoured on retry.
    rid = uuid.uuid4().hex
    body = {"clientId": client, "ticker": "OK", "quantity": "1", "price": "1", "requestId": rid}
    first = call(gw, "POST", "/api/v1/holdings/positions/open", body)
    again = call(gw, "POST", "/api/v1/holdings/positions/open", body)
    assert first[0] == again[0] == 200 and first[2] == again[2]
    assert gw["process"].poll() is None
