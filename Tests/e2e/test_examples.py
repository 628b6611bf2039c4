"""examples/complete_demo.py runs end to end, through the Python client package, against the
service as the README's first command starts it: deploy/run.sh itself (its own Postgres
cluster, the embedded broker, h2c on loopback behind a development token it prints), with a
debug build and its cluster in a folder and on a port of the test's own."""
import os
import shutil
import subprocess
import sys

from conftest import ROOT, free_port, start, stop


def test_complete_demo_against_deploy_run_sh():
    data = os.path.join(ROOT, ".data", "run-sh-test-postgres")
    shutil.rmtree(data, ignore_errors=True)
    command = ["env", "HOLDINGS_BUILD=debug", f"HOLDINGS_POSTGRES_DATA={data}", f"HOLDINGS_POSTGRES_PORT={free_port()}",
               "HOLDINGS_HTTP_PORT=0", "bash", os.path.join(ROOT, "deploy", "run.sh"), "--port", "0", "--no-agent"]
    process = None
    try:
        process, address = start(command, timeout=600)
        lines = [line.strip() for line in process.output]
        token = lines[lines.index(next(l for l in lines if l.startswith("run: development token"))) + 1]
        result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "complete_demo.py"), "--server", address],
                                env={**os.environ, "HOLDINGS_TOKEN": token}, capture_output=True, text=True, timeout=300)
    finally:
        if process is not None:
            stop(process)
        subprocess.run(["bash", os.path.join(ROOT, "deploy", "postgres.sh"), "stop", data], capture_output=True, timeout=120)
        shutil.rmtree(data, ignore_errors=True)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    print(out)
    for method in ("FIFO", "LIFO", "HIFO", "AVERAGE"):
        assert f"by {method}: proceeds" in out
    for words in ("split ", "performance: total return", "planned: ", "rebalanced (", "weights after", "events recorded"):
        assert words in out, out
