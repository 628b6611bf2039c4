"""Reflection and health with the stock Python clients, TLS, graceful shutdown, flow control
under a slow reader, and a thousand idle connections."""
import os
import resource
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import grpc
import pytest
from conftest import binary, holdingsd_binary, holdingsd_command, start, stop
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

CONTRACT = ["HoldingsService", "CostBasisService", "AnalyticsService",
            "RebalancingService", "DataMeshService", "AgentService"]


def test_reflection_v1alpha_with_grpcio_reflection(server):
    address, _ = server
    database = ProtoReflectionDescriptorDatabase(grpc.insecure_channel(address))
    services = set(database.get_services())
    assert {f"ultracore.holdings.v1.{s}" for s in CONTRACT} <= services
    assert {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} <= services
    pool = DescriptorPool(database)
    holdings = pool.FindServiceByName("ultracore.holdings.v1.HoldingsService")
    assert "OpenPosition" in [m.name for m in holdings.methods]
    open_position = holdings.methods_by_name["OpenPosition"]
    assert open_position.input_type.full_name == "ultracore.holdings.v1.OpenPositionRequest"
    event = pool.FindMessageTypeByName("ultracore.holdings.v1.Event")
    assert "payload" in event.oneofs_by_name
    assert pool.FindFileByName("ultracore/holdings/v1/common.proto").dependencies[0].name == "google/protobuf/timestamp.proto"
    with pytest.raises(KeyError):
        pool.FindMessageTypeByName("ultracore.holdings.v1.NoSuchMessage")


def test_reflection_v1_answers_in_one_stream_with_not_found_for_unknowns(server):
    address, _ = server
    channel = grpc.insecure_channel(address)
    call = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                 request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                 response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Symbol"),
                reflection_pb2.ServerReflectionRequest(file_by_filename="ultracore/holdings/v1/holdings.proto"),
                reflection_pb2.ServerReflectionRequest(
                    file_containing_symbol="ultracore.holdings.v1.HoldingsService.OpenPosition")]
    answers = list(call(iter(requests), timeout=10))
    assert len(answers) == 4
    assert answers[1].error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    from google.protobuf import descriptor_pb2
    holdings = descriptor_pb2.FileDescriptorProto.FromString(answers[2].file_descriptor_response.file_descriptor_proto[0])
    assert holdings.name == "ultracore/holdings/v1/holdings.proto" and holdings.service[0].name == "HoldingsService"
    names = [descriptor_pb2.FileDescriptorProto.FromString(b).name
             for b in answers[3].file_descriptor_response.file_descriptor_proto]
    assert names[0] == "ultracore/holdings/v1/holdings.proto" and "google/protobuf/timestamp.proto" in names


def test_health_checking_client_per_service(server):
    address, _ = server
    stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(address))
    for name in [""] + [f"ultracore.holdings.v1.{s}" for s in CONTRACT]:
        assert stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status == \
            health_pb2.HealthCheckResponse.SERVING
    watch = stub.Watch(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    watch.cancel()


# TLS

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def tls_interop_server(certificate):
    cert, key = certificate
    process, address = start([binary("interop-server"), "--port", "0", "--tls-cert", cert, "--tls-key", key])
    yield address
    stop(process)


def test_tls_with_grpcio_client(certificate, tls_interop_server, testing_modules):
    cert, _ = certificate
    with open(cert, "rb") as f:
        credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    channel = grpc.secure_channel(tls_interop_server, credentials, options=[("grpc.ssl_target_name_override", "localhost")])
    stub = testing_modules[3].TestServiceStub(channel)
    m = testing_modules[1]
    response = stub.UnaryCall(m.SimpleRequest(response_size=314159, payload=m.Payload(body=b"\0" * 271828)), timeout=10)
    assert len(response.payload.body) == 314159


def test_tls_with_our_swift_client(certificate, tls_interop_server):
    cert, _ = certificate
    result = subprocess.run([binary("interop-client"), "--server", tls_interop_server, "--ca_file", cert,
                             "--server_host_override", "localhost"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS") == 18


def test_tls_refuses_a_client_without_h2_and_a_cleartext_client(certificate, tls_interop_server):
    cert, _ = certificate
    host, port = tls_interop_server.split(":")
    context = ssl.create_default_context(cafile=cert)
    context.set_alpn_protocols(["http/1.1"])
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="localhost")
    with socket.create_connection((host, int(port)), timeout=5) as raw:  # h2c preface to a TLS port
        raw.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\0" * 64)
        raw.settimeout(5)
        try:
            while raw.recv(1024):  # a TLS alert at most, then the server closes
                pass
        except ConnectionResetError:
            pass
    channel = grpc.insecure_channel(tls_interop_server)  # and a grpcio cleartext client fails cleanly
    with pytest.raises(grpc.RpcError) as error:
        channel.unary_unary("/grpc.testing.TestService/EmptyCall")(b"", timeout=3)
    assert error.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


# Graceful shutdown

def test_sigterm_lets_calls_in_flight_finish_then_exits(testing_modules):
    process, address = start([binary("interop-server"), "--port", "0"])
    try:
        m = testing_modules[1]
        stub = testing_modules[3].TestServiceStub(grpc.insecure_channel(address))
        request = m.StreamingOutputCallRequest(
            response_parameters=[m.ResponseParameters(size=10, interval_us=400_000) for _ in range(4)])
        call = stub.StreamingOutputCall(request, timeout=20)
        first = next(call)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        host, port = address.split(":")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=2).close()
        rest = list(call)
        assert [len(r.payload.body) for r in [first] + rest] == [10, 10, 10, 10]
        assert call.code() == grpc.StatusCode.OK
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_sigterm_cancels_what_outlives_the_grace_period(postgres):
    process, address = start(holdingsd_command(postgres.new_database(), "--shutdown-grace", "1"))
    try:
        stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(address))
        watch = stub.Watch(health_pb2.HealthCheckRequest(), timeout=30)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        with pytest.raises(grpc.RpcError):
            for update in watch:  # NOT_SERVING may arrive first; then the stream ends
                assert update.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        if process.poll() is None:
            process.kill()


# Flow control and resource bounds

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_100_mb_server_stream_to_a_slow_reader_keeps_memory_bounded(testing_modules):
    import h2.config
    import h2.connection
    import h2.events
    process, address = start([binary("interop-server"), "--port", "0", "--threads", "1"])
    try:
        m = testing_modules[1]
        host, port = address.split(":")
        sock = socket.create_connection((host, int(port)), timeout=20)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()  # default 64 KiB windows: the server must wait for us
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":authority", "t"),
                                   (":path", "/grpc.testing.TestService/StreamingOutputCall"),
                                   ("content-type", "application/grpc"), ("te", "trailers")])
        body = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=1 << 20)] * 100)
        data = body.SerializeToString()
        conn.send_data(stream, struct.pack(">BI", 0, len(data)) + data, end_stream=True)
        sock.sendall(conn.data_to_send())
        baseline = rss_kib(process.pid)
        time.sleep(1.5)  # not reading: the handler must be parked by flow control
        parked = rss_kib(process.pid)
        received, trailers, peak = 0, None, parked
        while trailers is None:
            for event in conn.receive_data(sock.recv(1 << 20)):
                if isinstance(event, h2.events.DataReceived):
                    received += len(event.data)
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    trailers = dict(event.headers)
            sock.sendall(conn.data_to_send())
            if received % (8 << 20) < (1 << 20):
                peak = max(peak, rss_kib(process.pid))
        sock.close()
        assert trailers[b"grpc-status"] == b"0"
        assert received >= 100 * (1 << 20)
        assert parked - baseline < 16 * 1024, f"RSS grew {parked - baseline} KiB while the reader was stalled"
        assert peak - baseline < 48 * 1024, f"RSS grew {peak - baseline} KiB while 100 MB streamed"
        print(f"\nRSS baseline {baseline} KiB, stalled {parked} KiB, peak {peak} KiB while streaming {received} bytes")
    finally:
        stop(process)


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_thousand_idle_connections_are_held_and_released(interop_server, testing_modules):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    host, port = interop_server.split(":")
    pid = int(subprocess.check_output(["pgrep", "-f", f"interop-server --port 0 --threads 2"]).split()[0])
    before = open_fds(pid)
    idle = []
    for index in range(1000):
        sock = socket.create_connection((host, int(port)), timeout=5)
        if index % 2:
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        idle.append(sock)
    deadline = time.monotonic() + 10
    while open_fds(pid) < before + 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_fds(pid) >= before + 1000
    channel = grpc.insecure_channel(interop_server)
    stub = testing_modules[3].TestServiceStub(channel)
    m = testing_modules[1]
    assert len(stub.UnaryCall(m.SimpleRequest(response_size=100), timeout=10).payload.body) == 100
    channel.close()
    for sock in idle:
        sock.close()
    deadline = time.monotonic() + 10
    while open_fds(pid) > before + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    # A few may be other tests' channels to this shared server; the thousand must be gone.
    assert open_fds(pid) <= before + 5, f"{open_fds(pid) - before} descriptors left behind"
