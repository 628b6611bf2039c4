"""Starts a real holdingsd on a free loopback port for the end-to-end tests."""
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Tests", "interop"))


def holdingsd_binary():
    explicit = os.environ.get("HOLDINGSD_BIN")
    if explicit:
        return explicit
    bin_dir = subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip()
    return os.path.join(bin_dir, "holdingsd")


@pytest.fixture(scope="session")
def server():
    """holdingsd with 2 event loops and a 1 MiB message limit; yields its address."""
    process = subprocess.Popen(
        [holdingsd_binary(), "--port", "0", "--threads", "2", "--max-message-bytes", str(1 << 20)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    match = re.search(r"listening on ([0-9.]+):(\d+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"holdingsd did not start: {line!r}")
    yield f"{match.group(1)}:{match.group(2)}", process
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def proto_modules():
    """Python modules generated from proto/ by grpcio-tools (the reference client)."""
    import samples
    modules = samples.generate_modules()
    return {m.__name__.split(".")[-1]: m for m in modules}
