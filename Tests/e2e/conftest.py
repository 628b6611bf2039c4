"""Starts a real holdingsd on a free loopback port for the end-to-end tests."""
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Tests", "interop"))


def binary(name):
    """A product of the Swift build: next to HOLDINGSD_BIN when set, else from swift build."""
    explicit = os.environ.get("HOLDINGSD_BIN")
    if explicit:
        return os.path.join(os.path.dirname(explicit), name)
    bin_dir = subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip()
    return os.path.join(bin_dir, name)


def holdingsd_binary():
    return binary("holdingsd")


def start(command):
    """Starts a server that prints 'listening on HOST:PORT'; returns (process, address)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    match = re.search(r"listening on ([0-9.]+):(\d+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"{command[0]} did not start: {line!r}")
    return process, f"{match.group(1)}:{match.group(2)}"


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def server():
    """holdingsd with 2 event loops and a 1 MiB message limit; yields its address."""
    process, address = start(
        [holdingsd_binary(), "--port", "0", "--threads", "2", "--max-message-bytes", str(1 << 20)])
    yield address, process
    stop(process)


@pytest.fixture(scope="session")
def interop_server():
    """Our grpc.testing.TestService server (2 event loops); yields its address."""
    process, address = start([binary("interop-server"), "--port", "0", "--threads", "2"])
    yield address
    stop(process)


@pytest.fixture(scope="session")
def testing_modules():
    """grpc.testing Python modules: (test_pb2, messages_pb2, empty_pb2, test_pb2_grpc)."""
    import testing_protos
    return testing_protos.load()


@pytest.fixture(scope="session")
def proto_modules():
    """Python modules generated from proto/ by grpcio-tools (the reference client)."""
    import samples
    modules = samples.generate_modules()
    return {m.__name__.split(".")[-1]: m for m in modules}


@pytest.fixture(scope="session")
def python_test_server():
    """grpc.testing.TestService on Python grpcio (Tests/interop/py_test_server.py)."""
    process, address = start([sys.executable, os.path.join(ROOT, "Tests", "interop", "py_test_server.py"), "--port", "0"])
    yield address
    stop(process)
