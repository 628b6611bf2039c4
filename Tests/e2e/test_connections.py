"""Connection bounds, each probed as an attacker would against a holdingsd with short limits,
and each followed by a check that the server still serves everyone else: a silent TCP
connection (handshake timeout), an HTTP/2 connection without calls (idle: GOAWAY, close),
a peer that stops answering PINGs (keepalive), HEADERS and a request message dribbled a
byte at a time (slowloris), and connections beyond the per-address and per-process limits."""
import socket
import struct
import time

import grpc
import h2.config
import h2.connection
import h2.events
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import samples
from conftest import holdings_channel, holdingsd_command, start, stop, token

M = samples.holdings_modules()
pb = M["holdings_pb2"]
LIMITS = ["--handshake-timeout", "1", "--idle-timeout", "2", "--keepalive-interval", "1", "--keepalive-timeout", "1",
          "--receive-grace", "1", "--min-receive-rate", "100", "--max-connections-per-address", "20",
          "--max-connections", "60"]


@pytest.fixture(scope="module")
def limited(postgres):
    process, address = start(holdingsd_command(postgres.new_database(), *LIMITS))
    yield address, process
    stop(process)


def connect(address, source="127.0.0.1"):
    host, port = address.split(":")
    return socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0))


def wait_closed(sock, within, feed=None):
    """Seconds until the server closed `sock` (EOF or reset), or None if it is still open after
    `within` seconds. `feed(elapsed)` runs between reads (to dribble bytes)."""
    started = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - started < within:
        if feed:
            try:
                feed(time.monotonic() - started)
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
        try:
            data = sock.recv(65536)
            if not data:
                return time.monotonic() - started
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - started
    return None


def is_open(sock):
    """True while the server has not closed `sock` (what it sent, its SETTINGS, is read away)."""
    sock.setblocking(False)
    try:
        while True:
            if not sock.recv(65536):
                return False
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False


def byte_by_byte(data, send, interval=0.3):
    """A `feed` for wait_closed that sends `data` one byte per `interval` seconds through
    `send`, and the count sent so far (a one-element list)."""
    sent = [0]

    def feed(elapsed):
        while sent[0] < len(data) and sent[0] < elapsed / interval:
            send(data[sent[0]:sent[0] + 1])
            sent[0] += 1

    return feed, sent


def h2_handshake(address, source="127.0.0.1"):
    sock = connect(address, source)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    sock.settimeout(5)
    conn.receive_data(sock.recv(65536))  # the server's SETTINGS
    sock.sendall(conn.data_to_send())    # our ACK
    return sock, conn


def still_serving(address):
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(address))
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(holdings_channel(address))
    holdings.ListPositions(pb.ListPositionsRequest(client_id="conn-check"), timeout=10)


def grpc_headers(path):
    return [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "t"),
            ("content-type", "application/grpc"), ("te", "trailers"), ("authorization", f"Bearer {token()}")]


def test_silent_and_half_preface_connections_are_closed_at_the_handshake_timeout(limited):
    address, _ = limited
    silent = connect(address, "127.0.0.2")
    half = connect(address, "127.0.0.2")
    half.sendall(b"PRI * HTTP/2.0\r\n")
    for sock in (silent, half):
        elapsed = wait_closed(sock, 6)
        assert elapsed is not None and elapsed < 4, elapsed
    still_serving(address)


def test_a_connection_without_calls_gets_goaway_and_is_closed_when_idle(limited):
    address, _ = limited
    sock, conn = h2_handshake(address, "127.0.0.2")
    started = time.monotonic()
    goaway = None
    sock.settimeout(0.2)
    while time.monotonic() - started < 8:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ConnectionTerminated):
                goaway = event
        sock.sendall(conn.data_to_send())  # answers PINGs: alive, but idle
    elapsed = time.monotonic() - started
    assert goaway is not None and goaway.error_code == 0, goaway
    assert 1.5 < elapsed < 5, elapsed
    still_serving(address)


def test_a_peer_that_stops_answering_pings_is_closed(limited):
    address, _ = limited
    sock, conn = h2_handshake(address, "127.0.0.2")
    # A call that stays open (a watch), so the connection is not idle; then silence.
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, grpc_headers("/ultracore.holdings.v1.HoldingsService/WatchEvents"))
    body = pb.WatchEventsRequest(client_id="conn-keepalive").SerializeToString()
    conn.send_data(stream, struct.pack(">BI", 0, len(body)) + body, end_stream=True)
    sock.sendall(conn.data_to_send())
    elapsed = wait_closed(sock, 8)  # reads but never answers the PING
    assert elapsed is not None and 1.5 < elapsed < 5, elapsed
    still_serving(address)


def test_dribbled_headers_are_cut_off(limited):
    address, _ = limited
    sock, conn = h2_handshake(address, "127.0.0.2")
    conn.send_headers(conn.get_next_available_stream_id(), grpc_headers("/ultracore.holdings.v1.HoldingsService/ListPositions"))
    frame = conn.data_to_send()
    dribble, sent = byte_by_byte(frame, sock.sendall)
    elapsed = wait_closed(sock, 15, dribble)
    # grace 1 s + the frame at 100 bytes/s, checked every 250 ms
    allowance = 1 + len(frame) / 100 + 1
    assert elapsed is not None and elapsed < allowance, (elapsed, allowance, len(frame))
    assert sent[0] < len(frame), "the whole frame went through"
    still_serving(address)


def test_a_dribbled_request_message_is_cut_off(limited):
    address, _ = limited
    sock, conn = h2_handshake(address, "127.0.0.2")
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, grpc_headers("/ultracore.holdings.v1.HoldingsService/ListPositions"))
    sock.sendall(conn.data_to_send())
    body = pb.ListPositionsRequest(client_id="c" * 190).SerializeToString()
    message = struct.pack(">BI", 0, len(body)) + body

    def send_data_frame(byte):  # each byte a whole DATA frame
        conn.send_data(stream, byte)
        sock.sendall(conn.data_to_send())

    dribble, sent = byte_by_byte(message, send_data_frame)
    elapsed = wait_closed(sock, 15, dribble)
    allowance = 1 + len(message) / 100 + 1.5
    assert elapsed is not None and elapsed < allowance, (elapsed, allowance)
    assert sent[0] < len(message)
    still_serving(address)


def test_connections_beyond_the_limits_are_closed_at_accept(limited):
    address, process = limited
    held = [connect(address, "127.0.0.3") for _ in range(20)]
    extra = connect(address, "127.0.0.3")
    assert wait_closed(extra, 0.5) is not None, "the 21st connection from one address was kept"
    assert is_open(held[0]) and is_open(held[-1])  # the first 20 are open (until their handshake timeout)
    more = [connect(address, source) for source in ("127.0.0.4", "127.0.0.5") for _ in range(20)]
    beyond = connect(address, "127.0.0.6")
    assert wait_closed(beyond, 0.5) is not None, "a connection beyond the process limit was kept"
    for sock in held + more + [extra, beyond]:
        sock.close()
    time.sleep(1.5)
    still_serving(address)
    assert any("refusing connections at the limit" in line for line in process.output)


def test_crowds_of_silent_idle_and_dribbling_connections_are_all_closed(postgres):
    """The issue's probe at scale, bounded: 400 silent TCP connections, 400 idle HTTP/2
    connections and 100 connections dribbling HEADERS a byte per second, at once; every one
    is closed within its limit while a client keeps being served."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    process, address = start(holdingsd_command(postgres.new_database(), "--handshake-timeout", "2", "--idle-timeout", "3",
                                               "--receive-grace", "2", "--min-receive-rate", "100"))
    try:
        silent = [connect(address, "127.0.1.1") for _ in range(400)]
        idle = [h2_handshake(address, "127.0.1.2")[0] for _ in range(400)]
        dribbling = []
        for _ in range(100):
            sock, conn = h2_handshake(address, "127.0.1.3")
            conn.send_headers(1, grpc_headers("/ultracore.holdings.v1.HoldingsService/ListPositions"))
            dribbling.append((sock, conn.data_to_send()))
        started = time.monotonic()
        open_socks = {s: None for s in silent + idle + [s for s, _ in dribbling]}
        frames = {s: frame for s, frame in dribbling}
        for sock in open_socks:
            sock.setblocking(False)
        closed_at = {}
        sent = 0
        while open_socks and time.monotonic() - started < 20:
            elapsed = time.monotonic() - started
            if sent < elapsed:  # one more byte of each dribbled HEADERS frame per second
                for sock, frame in list(frames.items()):
                    if sock in open_socks and sent < len(frame):
                        try:
                            sock.sendall(frame[sent:sent + 1])
                        except OSError:
                            pass
                sent += 1
            for sock in list(open_socks):
                try:
                    while True:
                        if not sock.recv(65536):
                            raise ConnectionResetError
                except BlockingIOError:
                    continue
                except OSError:
                    closed_at[sock] = time.monotonic() - started
                    del open_socks[sock]
            still_serving(address) if int(elapsed) % 5 == 0 and elapsed - int(elapsed) < 0.1 else time.sleep(0.05)
        assert not open_socks, f"{len(open_socks)} connections still open after 20 s"
        worst = {name: max(closed_at[s] for s in group) for name, group in
                 (("silent", silent), ("idle", idle), ("dribbling", [s for s, _ in dribbling]))}
        assert worst["silent"] < 5 and worst["idle"] < 7 and worst["dribbling"] < 10, worst
        still_serving(address)
        print(f"closed: {len(closed_at)} connections; latest per kind (s): {worst}")
    finally:
        stop(process)
