"""grpc.testing.TestService on Python grpcio: the server our Swift client is checked against,
and the Python side of the benchmark.

    python3 py_test_server.py [--port N] [--workers N]

Prints "py-test-server listening on 127.0.0.1:PORT". grpcio servers cannot see whether a
request arrived compressed, so `expect_compressed` is not checked here (the interop
document allows servers without that check; the client's probe is skipped for it)."""
import argparse
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

import testing_protos

test_pb2, messages_pb2, empty_pb2, test_pb2_grpc = testing_protos.load()
ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"


def echo_metadata(context):
    metadata = dict(context.invocation_metadata())
    if ECHO_INITIAL in metadata:
        context.send_initial_metadata(((ECHO_INITIAL, metadata[ECHO_INITIAL]),))
    if ECHO_TRAILING in metadata:
        context.set_trailing_metadata(((ECHO_TRAILING, metadata[ECHO_TRAILING]),))


def abort_with(context, status):
    if status is not None and status.code != 0:
        context.abort(grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == status.code)), status.message)


def responses(request, context):
    context.set_compression(grpc.Compression.Gzip)
    for parameters in request.response_parameters:
        if parameters.interval_us:
            time.sleep(parameters.interval_us / 1e6)
        if not (parameters.HasField("compressed") and parameters.compressed.value):
            context.disable_next_message_compression()
        yield messages_pb2.StreamingOutputCallResponse(payload=messages_pb2.Payload(body=b"\0" * parameters.size))


class TestService(test_pb2_grpc.TestServiceServicer):
    def EmptyCall(self, request, context):
        echo_metadata(context)
        return empty_pb2.Empty()

    def UnaryCall(self, request, context):
        echo_metadata(context)
        abort_with(context, request.response_status if request.HasField("response_status") else None)
        if request.HasField("response_compressed"):
            context.set_compression(grpc.Compression.Gzip if request.response_compressed.value
                                    else grpc.Compression.NoCompression)
        response = messages_pb2.SimpleResponse()
        if request.response_size:
            response.payload.body = b"\0" * request.response_size
        return response

    CacheableUnaryCall = UnaryCall

    def StreamingOutputCall(self, request, context):
        echo_metadata(context)
        yield from responses(request, context)
        abort_with(context, request.response_status if request.HasField("response_status") else None)

    def StreamingInputCall(self, request_iterator, context):
        echo_metadata(context)
        total = sum(len(r.payload.body) for r in request_iterator)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        for request in request_iterator:
            abort_with(context, request.response_status if request.HasField("response_status") else None)
            yield from responses(request, context)

    def HalfDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        for request in list(request_iterator):
            abort_with(context, request.response_status if request.HasField("response_status") else None)
            yield from responses(request, context)

    def UnimplementedCall(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "unimplemented by design")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers))
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"py-test-server listening on 127.0.0.1:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=2).wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
