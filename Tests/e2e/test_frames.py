"""Frame-level checks with the Python `h2` package: what grpcio hides (the compressed flag of
each message, raw headers) and bad input grpcio cannot send."""
import gzip
import socket
import struct
import time

import h2.config
import h2.connection
import h2.events
import pytest


class RawCall:
    """One HTTP/2 connection to the server, driven by hand."""

    def __init__(self, address):
        host, port = address.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                                                         validate_outbound_headers=False,
                                                                         normalize_outbound_headers=False))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 24})
        self.conn.increment_flow_control_window(1 << 24)
        self.sock.sendall(self.conn.data_to_send())
        self.pending = []

    def close(self):
        self.sock.close()

    def start(self, path, extra=(), encoding=None, accept="identity,gzip"):
        stream = self.conn.get_next_available_stream_id()
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "test"),
                   ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-accept-encoding", accept)]
        if encoding:
            headers.append(("grpc-encoding", encoding))
        self.conn.send_headers(stream, headers + list(extra))
        self.sock.sendall(self.conn.data_to_send())
        return stream

    def send(self, stream, data, end=False):
        """Sends in frames the peer allows, waiting for window updates as needed."""
        offset = 0
        while offset < len(data):
            room = min(self.conn.local_flow_control_window(stream), self.conn.max_outbound_frame_size, len(data) - offset)
            if room <= 0:
                self.pending += self.conn.receive_data(self.sock.recv(1 << 20))
                continue
            self.conn.send_data(stream, data[offset:offset + room])
            self.sock.sendall(self.conn.data_to_send())
            offset += room
        if end:
            self.conn.end_stream(stream)
            self.sock.sendall(self.conn.data_to_send())

    def reset(self, stream):
        self.conn.reset_stream(stream, error_code=8)
        self.sock.sendall(self.conn.data_to_send())

    def finish(self, stream, timeout=10):
        """Reads until the stream ends; returns (headers, messages as (flag, payload), trailers, reset)."""
        headers, trailers, body, reset = None, None, b"", None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events, self.pending = self.pending, []
            if not events:
                data = self.sock.recv(1 << 20)
                if not data:
                    break
                events = self.conn.receive_data(data)
            for event in events:
                if getattr(event, "stream_id", None) != stream:
                    continue
                if isinstance(event, h2.events.ResponseReceived):
                    headers = dict(event.headers)
                elif isinstance(event, h2.events.TrailersReceived):
                    trailers = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.StreamReset):
                    reset = event.error_code
                if isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    self.sock.sendall(self.conn.data_to_send())
                    return headers, split_messages(body), trailers, reset
            self.sock.sendall(self.conn.data_to_send())
        raise AssertionError("the stream did not end in time")


def split_messages(body):
    messages, offset = [], 0
    while offset + 5 <= len(body):
        flag, length = struct.unpack(">BI", body[offset:offset + 5])
        messages.append((flag, body[offset + 5:offset + 5 + length]))
        offset += 5 + length
    assert offset == len(body), "the body ends inside a message"
    return messages


def frame(message, compressed=False):
    body = gzip.compress(message) if compressed else message
    return struct.pack(">BI", 1 if compressed else 0, len(body)) + body


def status(headers, trailers):
    """grpc-status and grpc-message from the trailers, or the headers of a trailers-only answer."""
    source = trailers if trailers is not None else headers
    return int(source["grpc-status"]), source.get("grpc-message", "")


@pytest.fixture()
def raw(interop_server):
    call = RawCall(interop_server)
    yield call
    call.close()


UNARY = "/grpc.testing.TestService/UnaryCall"
OUTPUT = "/grpc.testing.TestService/StreamingOutputCall"
INPUT = "/grpc.testing.TestService/StreamingInputCall"


def unary(raw, m, request, compressed=False, accept="identity,gzip", extra=()):
    stream = raw.start(UNARY, encoding="gzip" if compressed else None, accept=accept, extra=extra)
    raw.send(stream, frame(request.SerializeToString(), compressed), end=True)
    return raw.finish(stream)


def test_server_compressed_unary_sets_the_flag_only_when_asked(raw, testing_modules):
    m = testing_modules[1]
    for wanted in (True, False):
        request = m.SimpleRequest(response_compressed=m.BoolValue(value=wanted), response_size=314159)
        headers, messages, trailers, _ = unary(raw, m, request)
        assert status(headers, trailers) == (0, "")
        assert headers["grpc-encoding"] == "gzip"
        [(flag, body)] = messages
        assert flag == (1 if wanted else 0)
        if wanted:
            assert len(body) < 10_000  # 314159 zeros shrink
            body = gzip.decompress(body)
        assert m.SimpleResponse.FromString(body).payload.body == b"\0" * 314159


def test_no_compression_for_a_client_that_does_not_accept_it(raw, testing_modules):
    m = testing_modules[1]
    request = m.SimpleRequest(response_compressed=m.BoolValue(value=True), response_size=1000)
    headers, [(flag, _)], trailers, _ = unary(raw, m, request, accept="identity")
    assert status(headers, trailers) == (0, "")
    assert flag == 0 and "grpc-encoding" not in headers


def test_server_compressed_streaming_flags_per_message(raw, testing_modules):
    m = testing_modules[1]
    request = m.StreamingOutputCallRequest(response_parameters=[
        m.ResponseParameters(size=31415, compressed=m.BoolValue(value=True)),
        m.ResponseParameters(size=92653, compressed=m.BoolValue(value=False))])
    stream = raw.start(OUTPUT)
    raw.send(stream, frame(request.SerializeToString()), end=True)
    headers, messages, trailers, _ = raw.finish(stream)
    assert status(headers, trailers) == (0, "")
    assert [flag for flag, _ in messages] == [1, 0]
    sizes = [len(m.StreamingOutputCallResponse.FromString(gzip.decompress(b) if f else b).payload.body) for f, b in messages]
    assert sizes == [31415, 92653]


def test_client_compressed_unary_and_streaming_are_checked_by_the_server(raw, testing_modules):
    m = testing_modules[1]
    expect = m.BoolValue(value=True)
    request = m.SimpleRequest(expect_compressed=expect, response_size=10, payload=m.Payload(body=b"\0" * 271828))
    assert status(*unary(raw, m, request, compressed=True)[::2]) == (0, "")
    code, message = status(*unary(raw, m, request, compressed=False)[::2])
    assert code == 3 and "expected compressed" in message
    stream = raw.start(INPUT, encoding="gzip")
    for size in (27182, 8):
        raw.send(stream, frame(m.StreamingInputCallRequest(expect_compressed=expect, payload=m.Payload(body=b"\0" * size))
                               .SerializeToString(), compressed=True))
    raw.send(stream, b"", end=True)
    headers, [(flag, body)], trailers, _ = raw.finish(stream)
    assert status(headers, trailers) == (0, "") and flag == 0
    assert m.StreamingInputCallResponse.FromString(body).aggregated_payload_size == 27190


# Bad input, one stream at a time: each gets a precise status and the connection goes on.

def test_compressed_flag_without_encoding_is_internal(raw, testing_modules):
    m = testing_modules[1]
    stream = raw.start(UNARY)
    raw.send(stream, frame(m.SimpleRequest().SerializeToString(), compressed=True), end=True)
    headers, _, trailers, _ = raw.finish(stream)
    code, message = status(headers, trailers)
    assert code == 13 and "compressed flag" in message
    assert status(*unary(raw, m, m.SimpleRequest(response_size=5))[::2]) == (0, "")


def test_unsupported_encoding_is_unimplemented_naming_what_is(raw, testing_modules):
    m = testing_modules[1]
    stream = raw.start(UNARY, encoding="snappy")
    raw.send(stream, frame(b""), end=True)
    headers, _, trailers, _ = raw.finish(stream)
    code, message = status(headers, trailers)
    assert code == 12 and "snappy" in message
    assert headers["grpc-accept-encoding"] == "identity,gzip"


def test_corrupt_gzip_and_gzip_bombs_are_refused(raw, testing_modules):
    m = testing_modules[1]
    stream = raw.start(UNARY, encoding="gzip")
    raw.send(stream, struct.pack(">BI", 1, 10) + b"not gzip!!", end=True)
    headers, _, trailers, _ = raw.finish(stream)
    code, message = status(headers, trailers)
    assert code == 13 and "gzip" in message
    bomb = gzip.compress(m.SimpleRequest(payload=m.Payload(body=b"\0" * (64 << 20))).SerializeToString())
    assert len(bomb) < 100_000
    stream = raw.start(UNARY, encoding="gzip")
    raw.send(stream, struct.pack(">BI", 1, len(bomb)) + bomb, end=True)
    headers, _, trailers, _ = raw.finish(stream)
    code, message = status(headers, trailers)
    assert code == 8 and "exceeds the limit" in message


def test_length_prefix_past_the_data_is_internal(raw, testing_modules):
    stream = raw.start(UNARY)
    raw.send(stream, struct.pack(">BI", 0, 1000) + b"\x0a\x02", end=True)
    headers, _, trailers, _ = raw.finish(stream)
    code, message = status(headers, trailers)
    assert code == 13 and "inside a message" in message


def test_stream_reset_mid_message_leaves_the_connection_working(raw, testing_modules):
    m = testing_modules[1]
    stream = raw.start(INPUT)
    raw.send(stream, struct.pack(">BI", 0, 100000) + b"\0" * 5000)
    raw.reset(stream)
    assert status(*unary(raw, m, m.SimpleRequest(response_size=7))[::2]) == (0, "")


def test_oversized_headers_are_resource_exhausted(raw, testing_modules):
    m = testing_modules[1]
    extra = [(f"x-filler-{i}", "v" * 1000) for i in range(40)]
    headers, _, trailers, _ = unary(raw, m, m.SimpleRequest(), extra=extra)
    code, message = status(headers, trailers)
    assert code == 8 and "request headers" in message
    assert status(*unary(raw, m, m.SimpleRequest(response_size=3))[::2]) == (0, "")


def test_header_values_with_surrounding_whitespace_arrive_trimmed(raw, testing_modules):
    m = testing_modules[1]
    headers, _, trailers, _ = unary(raw, m, m.SimpleRequest(), extra=[("x-grpc-test-echo-initial", "  padded value\t")])
    assert status(headers, trailers) == (0, "")
    assert headers["x-grpc-test-echo-initial"] == "padded value"


def test_invalid_header_name_resets_only_that_stream(raw, testing_modules):
    m = testing_modules[1]
    _, _, _, reset = unary(raw, m, m.SimpleRequest(), extra=[("x-bad name", "v")])
    assert reset == 1  # PROTOCOL_ERROR
    assert status(*unary(raw, m, m.SimpleRequest(response_size=3))[::2]) == (0, "")


def test_binary_metadata_round_trips_base64(raw, testing_modules):
    m = testing_modules[1]
    import base64
    value = bytes(range(256))
    headers, _, trailers, _ = unary(raw, m, m.SimpleRequest(),
                                    extra=[("x-grpc-test-echo-trailing-bin", base64.b64encode(value).decode())])
    assert status(headers, trailers) == (0, "")
    echoed = trailers["x-grpc-test-echo-trailing-bin"]
    assert base64.b64decode(echoed + "=" * (-len(echoed) % 4)) == value


def test_trailers_follow_data_without_an_empty_end_stream_frame(interop_server, testing_modules):
    """The last DATA frame does not carry END_STREAM; the trailers' HEADERS frame does."""
    m = testing_modules[1]
    call = RawCall(interop_server)
    stream = call.start(UNARY)
    call.send(stream, frame(m.SimpleRequest(response_size=10).SerializeToString()), end=True)
    events = []
    while not any(isinstance(e, h2.events.StreamEnded) for e in events):
        events += call.conn.receive_data(call.sock.recv(1 << 20))
    kinds = [type(e).__name__ for e in events if getattr(e, "stream_id", None) == stream]
    assert kinds[-3:] == ["DataReceived", "TrailersReceived", "StreamEnded"]
    assert not any(isinstance(e, h2.events.DataReceived) and e.data == b"" for e in events)
    call.close()
