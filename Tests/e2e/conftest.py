"""Starts a real holdingsd on a free loopback port for the end-to-end tests."""
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid

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


def start(command, timeout=60, stdin=None):
    """Starts a server that prints 'listening on ADDRESS'; returns (process, address).

    Output (stdout and stderr) keeps being drained into process.output (a list of lines)
    so that a chatty server never blocks on a full pipe."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=stdin)
    process.output = []
    found = threading.Event()
    address = []

    def drain():
        for line in process.stdout:
            process.output.append(line)
            if not found.is_set():
                match = re.search(r"listening on ([0-9.]+:\d+(?:,[0-9.]+:\d+)*)", line)
                if match:
                    address.append(match.group(1))
                    found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    if not found.wait(timeout) or not address:
        process.kill()
        raise RuntimeError(f"{command[0]} did not start: {''.join(process.output)[-3000:]!r}")
    return process, address[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """The test cluster started by deploy/postgres.sh (as the postgres OS user)."""

    def __init__(self, data, port):
        self.data = data
        self.port = port

    def url(self, database="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self):
        """A fresh empty database; returns its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        self.psql("postgres", f"CREATE DATABASE {name}")
        return self.url(name)

    def psql(self, database_or_url, sql):
        url = database_or_url if "://" in database_or_url else self.url(database_or_url)
        return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", sql],
                              check=True, capture_output=True, text=True, timeout=60).stdout

    def stop(self):
        subprocess.run(["bash", os.path.join(ROOT, "deploy", "postgres.sh"), "stop", self.data], check=True, timeout=120)

    def start(self):
        subprocess.run(["bash", os.path.join(ROOT, "deploy", "postgres.sh"), "start", self.data, str(self.port)],
                       check=True, timeout=120, capture_output=True)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster for the whole test session in .data/test-postgres, on a free port."""
    data = os.path.join(ROOT, ".data", "test-postgres")
    cluster = Postgres(data, free_port())
    cluster.stop()
    cluster.start()
    yield cluster
    cluster.stop()


JWT_ISSUER = JWT_AUDIENCE = "ultracore-holdings"


def jwt_secret_file():
    """The HS256 secret of the test servers (random, in .data/, made once per session)."""
    path = os.path.join(ROOT, ".data", "test-jwt-secret")
    if not os.path.exists(path) or not getattr(jwt_secret_file, "made", False):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(os.urandom(32).hex())
        os.chmod(path, 0o600)
        jwt_secret_file.made = True
    return path


def token(scopes="admin", subject="e2e-admin", lifetime=3600, key=None, algorithm="HS256", headers=None, **claims):
    """A bearer token the test servers accept (HS256 with the session secret) unless told
    otherwise; claims override the defaults (iss, aud, sub, exp, scope)."""
    import jwt
    now = int(time.time())
    payload = {"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": subject, "iat": now, "exp": now + lifetime, "scope": scopes}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    if key is None:
        with open(jwt_secret_file()) as f:
            key = f.read().strip()
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def holdings_channel(address, token_text=None, options=None):
    """A grpcio channel to a test holdingsd (h2c on loopback) whose calls carry a bearer
    token: the admin token unless another is given."""
    import grpc
    credentials = grpc.composite_channel_credentials(
        grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP),
        grpc.access_token_call_credentials(token_text or token()))
    return grpc.secure_channel(address, credentials, options=options or [])


def holdingsd_command(database_url, *extra):
    """holdingsd serving h2c on loopback behind bearer tokens (HS256 with the session secret)."""
    return [holdingsd_binary(), "--port", "0", "--threads", "2", "--database-url", database_url,
            "--plaintext", "--jwt-hs256-secret-file", jwt_secret_file(), *extra]


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def server(postgres):
    """holdingsd with 2 event loops, a 1 MiB message limit, its own database and the
    embedded broker; yields (address, process)."""
    process, address = start(holdingsd_command(postgres.new_database(), "--max-message-bytes", str(1 << 20), "--reflection"))
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
