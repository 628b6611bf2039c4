"""examples/complete_demo.py runs end to end against a holdingsd started like deploy/run.sh
does (h2c on loopback behind bearer tokens), through the Python client package."""
import os
import subprocess
import sys

from conftest import ROOT, holdingsd_command, start, stop, token


def test_complete_demo_walks_the_whole_flow(postgres):
    process, address = start(holdingsd_command(postgres.new_database(), "--no-agent"))
    try:
        result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "complete_demo.py"), "--server", address],
                                env={**os.environ, "HOLDINGS_TOKEN": token("admin")}, capture_output=True, text=True, timeout=300)
    finally:
        stop(process)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    print(out)
    for method in ("FIFO", "LIFO", "HIFO", "AVERAGE"):
        assert f"by {method}: proceeds" in out
    for words in ("split ", "performance: total return", "planned: ", "rebalanced (", "weights after", "events recorded"):
        assert words in out, out
