"""Python modules for grpc.testing, compiled from Debian's grpc-proto files.

The files live under grpc/testing/ there; a Python package named `grpc` would shadow
grpcio, so they are compiled from a temporary copy under `grpctesting/` with their
import lines pointed there. Packages and messages are untouched.
"""
import importlib
import os
import re
import sys
import tempfile

GRPC_PROTO = "/usr/share/grpc-proto"
FILES = ["empty", "messages", "test"]
_modules = None


def load():
    """Returns (test_pb2, messages_pb2, empty_pb2, test_pb2_grpc)."""
    global _modules
    if _modules:
        return _modules
    from grpc_tools import protoc
    out = tempfile.mkdtemp(prefix="uc-grpc-testing-")
    os.makedirs(os.path.join(out, "grpctesting"))
    for name in FILES:
        with open(os.path.join(GRPC_PROTO, "grpc", "testing", f"{name}.proto")) as source:
            text = re.sub(r'import "grpc/testing/', 'import "grpctesting/', source.read())
        with open(os.path.join(out, "grpctesting", f"{name}.proto"), "w") as target:
            target.write(text)
    args = ["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}"]
    if protoc.main(args + [f"grpctesting/{name}.proto" for name in FILES]) != 0:
        raise SystemExit("grpc_tools.protoc failed on grpc.testing")
    open(os.path.join(out, "grpctesting", "__init__.py"), "w").close()
    sys.path.insert(0, out)
    _modules = tuple(importlib.import_module(f"grpctesting.{m}") for m in
                     ["test_pb2", "messages_pb2", "empty_pb2", "test_pb2_grpc"])
    return _modules
