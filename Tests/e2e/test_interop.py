"""grpc/grpc doc/interop-test-descriptions.md, client side written here, with Python grpcio
as the client and our interop-server (grpc.testing.TestService) as the server."""
import time

import grpc
import pytest

ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")


@pytest.fixture()
def stub(interop_server, testing_modules):
    channel = grpc.insecure_channel(interop_server)
    yield testing_modules[3].TestServiceStub(channel)
    channel.close()


@pytest.fixture()
def m(testing_modules):
    return testing_modules[1]


def payload(m, size):
    return m.Payload(body=b"\0" * size)


def test_empty_unary(stub, testing_modules):
    response = stub.EmptyCall(testing_modules[2].Empty(), timeout=10)
    assert response == testing_modules[2].Empty()


def test_large_unary(stub, m):
    response = stub.UnaryCall(m.SimpleRequest(response_size=314159, payload=payload(m, 271828)), timeout=10)
    assert response.payload.body == b"\0" * 314159


def test_client_streaming(stub, m):
    sizes = [27182, 8, 1828, 45904]
    response = stub.StreamingInputCall(iter([m.StreamingInputCallRequest(payload=payload(m, s)) for s in sizes]), timeout=10)
    assert response.aggregated_payload_size == 74922


def test_server_streaming(stub, m):
    sizes = [31415, 9, 2653, 58979]
    request = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=s) for s in sizes])
    responses = list(stub.StreamingOutputCall(request, timeout=10))
    assert [len(r.payload.body) for r in responses] == sizes
    assert all(r.payload.body == b"\0" * len(r.payload.body) for r in responses)


def test_ping_pong(stub, m):
    import queue
    pairs = [(27182, 31415), (8, 9), (1828, 2653), (45904, 58979)]
    outgoing = queue.Queue()

    def requests():
        while True:
            item = outgoing.get()
            if item is None:
                return
            yield item

    call = stub.FullDuplexCall(requests(), timeout=10)
    for request_size, response_size in pairs:
        outgoing.put(m.StreamingOutputCallRequest(
            response_parameters=[m.ResponseParameters(size=response_size)], payload=payload(m, request_size)))
        response = next(call)
        assert len(response.payload.body) == response_size
    outgoing.put(None)
    assert list(call) == []
    assert call.code() == grpc.StatusCode.OK


def test_empty_stream(stub):
    call = stub.FullDuplexCall(iter([]), timeout=10)
    assert list(call) == []
    assert call.code() == grpc.StatusCode.OK


@pytest.mark.parametrize("message", [
    "test status message",
    "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n",  # special_status_message
])
def test_status_code_and_message(stub, m, message):
    status = m.EchoStatus(code=2, message=message)
    with pytest.raises(grpc.RpcError) as error:
        stub.UnaryCall(m.SimpleRequest(response_status=status), timeout=10)
    assert error.value.code() == grpc.StatusCode.UNKNOWN
    assert error.value.details() == message
    call = stub.FullDuplexCall(iter([m.StreamingOutputCallRequest(response_status=status)]), timeout=10)
    with pytest.raises(grpc.RpcError) as error:
        list(call)
    assert error.value.code() == grpc.StatusCode.UNKNOWN
    assert error.value.details() == message


def test_custom_metadata(stub, m):
    metadata = [ECHO_INITIAL, ECHO_TRAILING]
    response, call = stub.UnaryCall.with_call(
        m.SimpleRequest(response_size=314159, payload=payload(m, 271828)), metadata=metadata, timeout=10)
    assert len(response.payload.body) == 314159
    assert ECHO_INITIAL in call.initial_metadata()
    assert ECHO_TRAILING in call.trailing_metadata()

    request = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=314159)], payload=payload(m, 271828))
    call = stub.FullDuplexCall(iter([request]), metadata=metadata, timeout=10)
    assert [len(r.payload.body) for r in call] == [314159]
    assert ECHO_INITIAL in call.initial_metadata()
    assert ECHO_TRAILING in call.trailing_metadata()


def test_unimplemented_method(stub, testing_modules):
    with pytest.raises(grpc.RpcError) as error:
        stub.UnimplementedCall(testing_modules[2].Empty(), timeout=10)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_unimplemented_service(interop_server, testing_modules):
    stub = testing_modules[3].UnimplementedServiceStub(grpc.insecure_channel(interop_server))
    with pytest.raises(grpc.RpcError) as error:
        stub.UnimplementedCall(testing_modules[2].Empty(), timeout=10)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "grpc.testing.UnimplementedService" in error.value.details()


def test_cancel_after_begin(stub, m):
    import threading
    never = threading.Event()

    def requests():
        never.wait(10)
        return
        yield

    future = stub.StreamingInputCall.future(requests(), timeout=10)
    future.cancel()
    never.set()
    assert future.cancelled()
    with pytest.raises(grpc.FutureCancelledError):
        future.result()


def test_cancel_after_first_response(stub, m):
    import queue
    outgoing = queue.Queue()

    def requests():
        while True:
            item = outgoing.get()
            if item is None:
                return
            yield item

    call = stub.FullDuplexCall(requests(), timeout=10)
    outgoing.put(m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=31415)], payload=payload(m, 27182)))
    assert len(next(call).payload.body) == 31415
    call.cancel()
    outgoing.put(None)
    assert call.code() == grpc.StatusCode.CANCELLED


def test_timeout_on_sleeping_server(stub, m):
    import threading
    hold = threading.Event()

    def requests():
        yield m.StreamingOutputCallRequest(payload=payload(m, 27182))
        hold.wait(5)

    call = stub.FullDuplexCall(requests(), timeout=0.001)
    with pytest.raises(grpc.RpcError) as error:
        list(call)
    hold.set()
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_server_enforces_the_deadline_it_was_sent(stub, m):
    """The server ends a sleeping call itself: the status comes from its trailers."""
    request = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=1, interval_us=3_000_000)])
    started = time.monotonic()
    call = stub.StreamingOutputCall(request, timeout=0.3)
    with pytest.raises(grpc.RpcError) as error:
        list(call)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2.5


# Compression, with grpcio: what it can check (the status of each case). The
# compressed flag of each message is checked at the frame level in test_frames.py.

def test_client_compressed_unary(stub, m):
    with pytest.raises(grpc.RpcError) as error:  # the probe: expected compressed, sent plain
        stub.UnaryCall(m.SimpleRequest(expect_compressed=m.BoolValue(value=True), response_size=314159,
                                       payload=payload(m, 271828)), timeout=10)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for compressed in (True, False):
        response = stub.UnaryCall(
            m.SimpleRequest(expect_compressed=m.BoolValue(value=compressed), response_size=314159, payload=payload(m, 271828)),
            compression=grpc.Compression.Gzip if compressed else grpc.Compression.NoCompression, timeout=10)
        assert len(response.payload.body) == 314159


def test_server_compressed_unary(stub, m):
    for compressed in (True, False):
        response = stub.UnaryCall(
            m.SimpleRequest(response_compressed=m.BoolValue(value=compressed), response_size=314159,
                            payload=payload(m, 271828)), timeout=10)
        assert response.payload.body == b"\0" * 314159


def test_client_compressed_streaming(stub, m):
    with pytest.raises(grpc.RpcError) as error:
        stub.StreamingInputCall(iter([m.StreamingInputCallRequest(
            expect_compressed=m.BoolValue(value=True), payload=payload(m, 27182))]), timeout=10)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    response = stub.StreamingInputCall(iter([
        m.StreamingInputCallRequest(expect_compressed=m.BoolValue(value=True), payload=payload(m, 27182)),
    ]), compression=grpc.Compression.Gzip, timeout=10)
    assert response.aggregated_payload_size == 27182


def test_server_compressed_streaming(stub, m):
    request = m.StreamingOutputCallRequest(response_parameters=[
        m.ResponseParameters(size=31415, compressed=m.BoolValue(value=True)),
        m.ResponseParameters(size=92653, compressed=m.BoolValue(value=False))])
    assert [len(r.payload.body) for r in stub.StreamingOutputCall(request, timeout=10)] == [31415, 92653]


def test_many_concurrent_calls_on_one_channel(stub, m):
    futures = [stub.UnaryCall.future(m.SimpleRequest(response_size=i, payload=payload(m, i)), timeout=20)
               for i in range(0, 2000, 4)]
    assert [len(f.result().payload.body) for f in futures] == list(range(0, 2000, 4))
