"""Our Swift client (interop-client, built on GRPCClient and the generated stubs) runs the
interop cases against our server and against Python grpcio's server."""
import subprocess

import pytest
from conftest import binary

CASES = ["empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
         "status_code_and_message", "special_status_message", "custom_metadata", "unimplemented_method",
         "unimplemented_service", "cancel_after_begin", "cancel_after_first_response", "timeout_on_sleeping_server",
         "client_compressed_unary", "server_compressed_unary", "client_compressed_streaming",
         "server_compressed_streaming"]


def run_cases(address, *extra):
    result = subprocess.run([binary("interop-client"), "--server", address, *extra],
                            capture_output=True, text=True, timeout=120)
    outcome = {}
    for line in result.stdout.splitlines():
        verdict, _, rest = line.partition(" ")
        outcome[rest.split(":")[0]] = (verdict, line)
    return result.returncode, outcome, result.stdout + result.stderr


@pytest.fixture(scope="module")
def against_ours(interop_server):
    return run_cases(interop_server)


@pytest.fixture(scope="module")
def against_grpcio(python_test_server):
    return run_cases(python_test_server, "--skip_compression_probe")


@pytest.mark.parametrize("case", CASES)
def test_swift_client_against_our_server(against_ours, case):
    _, outcome, output = against_ours
    assert outcome.get(case, ("MISSING", output))[0] == "PASS", outcome.get(case, (None, output))[1]


@pytest.mark.parametrize("case", CASES)
def test_swift_client_against_grpcio_server(against_grpcio, case):
    _, outcome, output = against_grpcio
    assert outcome.get(case, ("MISSING", output))[0] == "PASS", outcome.get(case, (None, output))[1]


def test_interop_client_exit_status_reflects_failures(interop_server):
    """A run with a failing case exits 1: pointing the client at a server without TestService."""
    code, outcome, _ = run_cases(interop_server, "--test_case", "empty_unary")
    assert code == 0 and outcome["empty_unary"][0] == "PASS"
    result = subprocess.run([binary("interop-client"), "--server", "127.0.0.1:1", "--test_case", "empty_unary"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "UNAVAILABLE" in result.stdout
