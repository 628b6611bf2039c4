"""End-to-end: the reference Python grpcio client against a running holdingsd."""
import socket
import threading
import time

import grpc
from conftest import holdings_channel
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

CONTRACT = ["HoldingsService", "CostBasisService", "AnalyticsService",
            "RebalancingService", "DataMeshService", "AgentService"]


def channel(server):
    address, _ = server
    return holdings_channel(address)


def test_health_check_serving_for_server_and_every_service(server):
    stub = health_pb2_grpc.HealthStub(channel(server))
    for name in [""] + [f"ultracore.holdings.v1.{s}" for s in CONTRACT]:
        response = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING, name


def test_health_check_unknown_service_is_not_found(server):
    stub = health_pb2_grpc.HealthStub(channel(server))
    with pytest.raises(grpc.RpcError) as error:
        stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no.such.Service" in error.value.details()


def test_health_watch_streams_the_current_status(server):
    stub = health_pb2_grpc.HealthStub(channel(server))
    stream = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
    first = next(stream)
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    stream.cancel()


IMPLEMENTED = {"/ultracore.holdings.v1.HoldingsService/" + m for m in
               ("OpenPosition", "GetPosition", "ListPositions", "ListEvents", "ClosePosition", "UpdatePositionValue",
                "ReconstructPosition", "GetPortfolioValue", "PublishPrices", "ApplyCorporateAction", "MonitorPortfolio")} | \
              {"/ultracore.holdings.v1.CostBasisService/" + m for m in
               ("SellLots", "GetCostBasisSummary", "GetUnrealizedGainLoss", "GetRealizedGains", "GetTaxLossHarvestCandidates")} | \
              {"/ultracore.holdings.v1.AnalyticsService/" + m for m in
               ("ComputePerformance", "ComputeSharpe", "ComputeMaxDrawdown", "ComputeAlphaBeta")} | \
              {"/ultracore.holdings.v1.RebalancingService/" + m for m in
               ("EvaluateRebalancing", "PlanRebalancing", "ExecuteRebalancing", "ScheduleRebalancing")} | \
              {"/ultracore.holdings.v1.AgentService/" + m for m in
               ("AssessRisk", "DetectAnomalies", "RecommendRebalancing", "TrainPolicy", "RecommendAction", "ListAlerts",
                "AcknowledgeAlert")} | \
              {"/ultracore.holdings.v1.DataMeshService/" + m for m in
               ("GetDataQuality", "GetLineage", "GetPortfolioAsOf", "DiffPosition")}
# Methods whose empty request is a complete question (no required field): answered.
ANSWERED_EMPTY = {"/ultracore.holdings.v1.DataMeshService/" + m for m in
                  ("ListMaterializedViews", "ListDataProducts", "ListQuarantinedRecords")}


def test_every_contract_method_is_served_or_answers_unimplemented_with_its_name(server, proto_modules):
    """Every method of API.md is routed: the implemented ones reject an empty request with
    INVALID_ARGUMENT, the others answer UNIMPLEMENTED naming themselves."""
    ch = channel(server)
    seen = 0
    for module_name in ["holdings_pb2", "cost_basis_pb2", "analytics_pb2", "rebalancing_pb2",
                        "data_mesh_pb2", "agent_pb2"]:
        module = proto_modules[module_name]
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                request_class = getattr(module, method.input_type.name, None) or \
                    proto_modules[method.input_type.file.name.split("/")[-1][:-6] + "_pb2"].__dict__[method.input_type.name]
                path = f"/{service.full_name}/{method.name}"
                if path in ANSWERED_EMPTY:
                    seen += 1
                    call = ch.unary_unary(path, request_serializer=lambda m: m.SerializeToString())
                    assert call(request_class(), timeout=5) is not None
                    continue
                with pytest.raises(grpc.RpcError) as error:
                    if method.server_streaming:
                        call = ch.unary_stream(path, request_serializer=lambda m: m.SerializeToString())
                        list(call(request_class(), timeout=1 if method.name == "WatchEvents" else 5))
                    else:
                        call = ch.unary_unary(path, request_serializer=lambda m: m.SerializeToString())
                        call(request_class(), timeout=5)
                seen += 1
                if path == "/ultracore.holdings.v1.HoldingsService/WatchEvents":
                    # Served: an empty request watches everything until the deadline.
                    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, path
                    continue
                if path in IMPLEMENTED:
                    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, path
                    continue
                assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED, path
                assert f"{service.full_name}/{method.name} is not implemented yet" == error.value.details()
    assert seen == 39  # 12 + 5 + 4 + 4 + 7 + 7 methods of the contract
    assert not [p for p in IMPLEMENTED | ANSWERED_EMPTY if "DataMesh" in p and p.split("/")[-1] not in
                proto_modules["data_mesh_pb2"].DESCRIPTOR.services_by_name["DataMeshService"].methods_by_name]


def test_unknown_service_and_method_are_unimplemented(server):
    ch = channel(server)
    with pytest.raises(grpc.RpcError) as error:
        ch.unary_unary("/no.such.Service/Method")(b"", timeout=5)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error.value.details() == "unknown service no.such.Service"
    with pytest.raises(grpc.RpcError) as error:
        ch.unary_unary("/grpc.health.v1.Health/Nope")(b"", timeout=5)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error.value.details() == "unknown method Nope of service grpc.health.v1.Health"


def test_undecodable_request_is_invalid_argument_naming_the_field(server):
    ch = channel(server)
    check = ch.unary_unary("/grpc.health.v1.Health/Check")
    with pytest.raises(grpc.RpcError) as error:
        check(b"\x0a\x02\xff\xfe", timeout=5)  # field 1 (service) holds invalid UTF-8
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "grpc.health.v1.HealthCheckRequest.service" in error.value.details()
    with pytest.raises(grpc.RpcError) as error:
        check(b"\x0a\x10\x41", timeout=5)  # length past the end
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_oversize_message_is_resource_exhausted_and_others_keep_working(server):
    ch = channel(server)
    check = ch.unary_unary("/grpc.health.v1.Health/Check")
    big = health_pb2.HealthCheckRequest(service="x" * (2 << 20)).SerializeToString()
    with pytest.raises(grpc.RpcError) as error:
        check(big, timeout=10)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeds the limit of 1048576 bytes" in error.value.details()
    stub = health_pb2_grpc.HealthStub(ch)
    assert stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING


def raw_exchange(server, payload, read_timeout=2.0):
    """Sends raw bytes on a new TCP connection; returns what the server answered before closing."""
    address, _ = server
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(payload)
        sock.settimeout(read_timeout)
        received = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return received, True
                received += chunk
        except socket.timeout:
            return received, False


def test_bad_connections_are_closed_and_the_server_keeps_serving(server):
    import random
    rng = random.Random(7)
    # Random bytes instead of the HTTP/2 preface.
    _, closed = raw_exchange(server, bytes(rng.randrange(256) for _ in range(300)))
    assert closed
    # An HTTP/1.1 request.
    _, closed = raw_exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert closed
    # A correct preface followed by a garbage frame: GOAWAY, then close.
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    answer, closed = raw_exchange(server, preface + b"\x00\x00\x04\x04\x00\x00\x00\x00\x00" + b"\xff" * 64)
    assert closed
    assert b"\x07" in answer  # a GOAWAY frame (type 7) was sent before closing
    _, process = server
    assert process.poll() is None
    stub = health_pb2_grpc.HealthStub(channel(server))
    assert stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING


def test_many_concurrent_calls_on_shared_and_separate_connections(server):
    errors = []
    shared = channel(server)

    def worker(index):
        ch = shared if index % 2 == 0 else channel(server)
        stub = health_pb2_grpc.HealthStub(ch)
        try:
            for _ in range(50):
                assert stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status == \
                    health_pb2.HealthCheckResponse.SERVING
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors


def test_calls_with_deadlines_succeed_and_a_bad_timeout_is_rejected(server):
    stub = health_pb2_grpc.HealthStub(channel(server))
    for _ in range(20):
        assert stub.Check(health_pb2.HealthCheckRequest(), timeout=3600).status == \
            health_pb2.HealthCheckResponse.SERVING
    # A health Watch with a short deadline ends with DEADLINE_EXCEEDED after its first message
    # (grpcio enforces deadlines too, so this does not tell which side ended it).
    stream = stub.Watch(health_pb2.HealthCheckRequest(), timeout=0.5)
    assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as error:
        list(stream)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
