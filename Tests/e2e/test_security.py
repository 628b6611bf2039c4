"""The security model tested as an attacker would, through grpcio: every method without
credentials, with expired, foreign-key, alg-none, wrong-issuer/audience and not-yet-valid
tokens, with a token of client A on client B's data (by client id, position id and plan
id), read-only tokens writing, missing prices/corporate-actions scopes, client
certificates from our CA and from another one; each refused with the right status and
nothing recorded. Plus the start-up refusals (closed by default) and the audit trail."""
import json
import os
import subprocess
import tempfile
import time
import uuid

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.protobuf import message_factory

import samples
from conftest import holdingsd_binary, holdingsd_command, start, stop, token, jwt_secret_file

M = samples.holdings_modules()
pb = M["holdings_pb2"]
cb = M["cost_basis_pb2"]
rb = M["rebalancing_pb2"]
ev = M["events_pb2"]
SERVICES = ["holdings", "cost_basis", "analytics", "rebalancing", "data_mesh", "agent"]
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)


def make_certificate(folder, ca, name, san):
    """A certificate for `name` signed by `ca`, with the given subjectAltName."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=folder)
    with open(os.path.join(folder, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=folder)


def read(folder, name):
    with open(os.path.join(folder, name), "rb") as f:
        return f.read()


class Secured:
    """holdingsd with TLS, client certificates (our CA) and bearer tokens (HS256 secret and a
    JWKS with an RSA and an EC key); the attacker's material beside it."""

    def __init__(self, postgres):
        self.dir = tempfile.mkdtemp(prefix="holdings-security-")
        d = self.dir
        make_ca(d, "ca")
        make_ca(d, "evil-ca")
        make_certificate(d, "ca", "server", "IP:127.0.0.1,DNS:localhost")
        make_certificate(d, "ca", "desk-a", "URI:spiffe://bank.test/desk-a")
        make_certificate(d, "ca", "desk-nobody", "DNS:nobody.test")
        make_certificate(d, "ca", "loader", "URI:spiffe://bank.test/loader")
        make_certificate(d, "evil-ca", "evil", "URI:spiffe://bank.test/desk-a")
        self.client_a = "sec-a-" + uuid.uuid4().hex[:6]
        self.client_b = "sec-b-" + uuid.uuid4().hex[:6]
        with open(os.path.join(d, "principals.json"), "w") as f:
            json.dump({"spiffe://bank.test/desk-a": f"clients:write:{self.client_a}",
                       "spiffe://bank.test/loader": "clients:write:*"}, f)
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        keys = []
        for kid, key, algorithm in (("rsa-1", self.rsa, jwt.algorithms.RSAAlgorithm), ("ec-1", self.ec, jwt.algorithms.ECAlgorithm)):
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "alg": "RS256" if kid == "rsa-1" else "ES256", "use": "sig"})
            keys.append(jwk)
        with open(os.path.join(d, "jwks.json"), "w") as f:
            json.dump({"keys": keys}, f)
        self.url = postgres.new_database()
        command = [holdingsd_binary(), "--port", "0", "--threads", "2", "--database-url", self.url,
                   "--tls-cert", f"{d}/server.pem", "--tls-key", f"{d}/server.key",
                   "--client-ca", f"{d}/ca.pem", "--client-principals", f"{d}/principals.json",
                   "--jwt-hs256-secret-file", jwt_secret_file(), "--jwt-jwks-file", f"{d}/jwks.json"]
        self.process, self.address = start(command)

    def channel(self, token_text=None, certificate=None):
        """A TLS channel trusting our CA; with a bearer token and/or a client certificate."""
        key = read(self.dir, f"{certificate}.key") if certificate else None
        chain = read(self.dir, f"{certificate}.pem") if certificate else None
        credentials = grpc.ssl_channel_credentials(read(self.dir, "ca.pem"), key, chain)
        if token_text:
            credentials = grpc.composite_channel_credentials(credentials, grpc.access_token_call_credentials(token_text))
        return grpc.secure_channel(self.address, credentials)

    def stubs(self, channel):
        return (M["holdings_pb2_grpc"].HoldingsServiceStub(channel), M["cost_basis_pb2_grpc"].CostBasisServiceStub(channel),
                M["rebalancing_pb2_grpc"].RebalancingServiceStub(channel))

    def admin(self):
        return self.stubs(self.channel(token()))

    def output(self):
        return "".join(self.process.output)


@pytest.fixture(scope="module")
def secured(postgres):
    server = Secured(postgres)
    yield server
    stop(server.process)


def code_of(call):
    try:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            for _ in result:
                break
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        return error.code(), error.details()


def every_method():
    """(path, request class, response class, server streaming) of every contract method."""
    for name in SERVICES:
        module = M[f"{name}_pb2"]
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield (f"/{service.full_name}/{method.name}", message_factory.GetMessageClass(method.input_type),
                       message_factory.GetMessageClass(method.output_type), method.server_streaming)


def aimed_at(request_class, client, position="", plan=""):
    """A request of the class aimed at `client`'s data (every id field it has)."""
    request = request_class()
    fields = request.DESCRIPTOR.fields_by_name
    for field, value in (("client_id", client), ("position_id", position), ("plan_id", plan), ("event_id", position),
                         ("request_id", "attack-" + uuid.uuid4().hex[:8])):
        if field in fields and value:
            setattr(request, field, value)
    return request


def call(channel, path, request, response_class, streaming, timeout=10):
    if streaming:
        stream = channel.unary_stream(path, request_serializer=type(request).SerializeToString,
                                      response_deserializer=response_class.FromString)
        return lambda: stream(request, timeout=timeout)
    unary = channel.unary_unary(path, request_serializer=type(request).SerializeToString,
                                response_deserializer=response_class.FromString)
    return lambda: unary(request, timeout=timeout)


def victim(secured):
    """Client B with a position and a plan (made by admin); returns (position id, plan id)."""
    holdings, _, rebalancing = secured.admin()
    b = secured.client_b
    aapl = holdings.OpenPosition(pb.OpenPositionRequest(client_id=b, ticker="AAPL", quantity="10", price="100"), timeout=10)
    holdings.OpenPosition(pb.OpenPositionRequest(client_id=b, ticker="MSFT", quantity="10", price="300"), timeout=10)
    plan = rebalancing.PlanRebalancing(rb.PlanRebalancingRequest(
        client_id=b, target_weights={"AAPL": "0.5", "MSFT": "0.5"}, strategy=ev.THRESHOLD,
        band=ev.DriftBand(absolute="0.01")), timeout=10)
    return aapl.position.position_id, plan.plan_id


def event_count(secured, client):
    holdings, _, _ = secured.admin()
    return len(holdings.ListEvents(pb.ListEventsRequest(client_id=client, page_size=1000), timeout=10).events)


def bad_tokens(secured):
    now = int(time.time())
    other_key = "another-secret-of-at-least-32-bytes!!"
    none_token = jwt.encode({"iss": "ultracore-holdings", "aud": "ultracore-holdings", "sub": "mallory", "exp": now + 600,
                             "scope": "admin"}, None, algorithm="none")
    confused = jwt.encode({"iss": "ultracore-holdings", "aud": "ultracore-holdings", "sub": "mallory", "exp": now + 600,
                           "scope": "admin"}, "x" * 40, algorithm="HS256", headers={"kid": "rsa-1"})
    return {
        "expired": token(lifetime=-120),
        "other key": token(key=other_key),
        "alg none": none_token,
        "alg none, no signature part": none_token.rstrip("."),
        "wrong issuer": token(iss="someone-else"),
        "wrong audience": token(aud="another-service"),
        "not yet valid": token(nbf=now + 600),
        "no exp": token(exp=None),
        "no subject": token(sub=None),
        "a subject with a newline": token(sub="mallory\n{\"audit\":\"forged\"}"),
        "an oversized subject": token(sub="m" * 300),
        "RS256 signed by an unknown RSA key": jwt.encode(
            {"iss": "ultracore-holdings", "aud": "ultracore-holdings", "sub": "m", "exp": now + 600, "scope": "admin"},
            rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256", headers={"kid": "rsa-1"}),
        "RS256 header on the EC key": jwt.encode(
            {"iss": "ultracore-holdings", "aud": "ultracore-holdings", "sub": "m", "exp": now + 600, "scope": "admin"},
            secured.rsa, algorithm="RS256", headers={"kid": "ec-1"}),
        "HS256 with a kid of the JWKS": confused,
        "garbage": "not.a.jwt",
        "empty": "",
    }


def test_every_method_refuses_missing_and_bad_credentials_and_records_nothing(secured):
    position, plan = victim(secured)
    before = event_count(secured, secured.client_b)
    anonymous = secured.channel()
    channels = {name: secured.channel(text) for name, text in bad_tokens(secured).items() if text}
    # A bearer header that is not a bearer token.
    channels["basic auth"] = grpc.secure_channel(secured.address, grpc.composite_channel_credentials(
        grpc.ssl_channel_credentials(read(secured.dir, "ca.pem")),
        grpc.metadata_call_credentials(lambda context, callback: callback((("authorization", "Basic YTpi"),), None))))
    checked = 0
    for path, request_class, response_class, streaming in every_method():
        request = aimed_at(request_class, secured.client_b, position, plan)
        code, details = code_of(call(anonymous, path, request, response_class, streaming))
        assert code == UNAUTHENTICATED and "credentials required" in details, (path, code, details)
        for name, channel in channels.items():
            code, details = code_of(call(channel, path, request, response_class, streaming))
            assert code == UNAUTHENTICATED, (path, name, code, details)
            checked += 1
    assert checked >= 33 * len(channels)
    assert event_count(secured, secured.client_b) == before
    holdings, _, _ = secured.admin()
    assert holdings.GetPosition(pb.GetPositionRequest(position_id=position), timeout=10).position.quantity == "10"


def test_a_token_for_client_a_never_reaches_client_b(secured):
    position, plan = victim(secured)
    a, b = secured.client_a, secured.client_b
    a_channel = secured.channel(token(f"clients:write:{a}", subject="alice"))
    holdings, costs, rebalancing = secured.stubs(a_channel)
    mine = holdings.OpenPosition(pb.OpenPositionRequest(client_id=a, ticker="AAPL", quantity="1", price="10"), timeout=10)
    before = event_count(secured, b)
    admin_holdings, _, _ = secured.admin()
    b_event = admin_holdings.ListEvents(pb.ListEventsRequest(client_id=b, page_size=1), timeout=10).events[0].event_id

    # Every method aimed at B's client id, position id, plan id: denied or not found, never OK.
    for path, request_class, response_class, streaming in every_method():
        if path.endswith(("/PublishPrices", "/ApplyCorporateAction", "/ListMaterializedViews", "/TrainPolicy",
                          "/ListQuarantinedRecords")):
            continue  # scope methods: tested below
        if path.endswith("/ListDataProducts"):
            continue  # descriptors only, no client data: any reader may list them
        request = aimed_at(request_class, b, position, plan)
        code, details = code_of(call(a_channel, path, request, response_class, streaming))
        if path.endswith("/ListEvents") or path.endswith("/WatchEvents"):
            assert code == DENIED and f"clients:read:{b}" in details, (path, code, details)
        elif path.endswith(("/GetDataQuality", "/GetLineage")):
            # Exactly one id: by client (denied) and by position or event (not found, as if unknown).
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (path, code, details)
            for field, value, expected in (("client_id", b, DENIED), ("position_id", position, grpc.StatusCode.NOT_FOUND),
                                           ("event_id", b_event, grpc.StatusCode.NOT_FOUND)):
                if field not in request_class.DESCRIPTOR.fields_by_name:
                    continue
                code, details = code_of(call(a_channel, path, request_class(**{field: value}), response_class, streaming))
                assert code == expected, (path, field, code, details)
                if expected == DENIED:
                    assert f"clients:read:{b}" in details, details
        elif "position_id" in request.DESCRIPTOR.fields_by_name and "client_id" not in request.DESCRIPTOR.fields_by_name:
            assert code == grpc.StatusCode.NOT_FOUND, (path, code, details)
        elif path.split("/")[1].endswith("AnalyticsService"):
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (path, code, details)  # no series: nothing of B's read
        else:
            assert code == DENIED and f"clients:" in details and b in details, (path, code, details)

    # By position id: exactly the answer for an id that does not exist.
    unknown = "00000000-0000-4000-8000-000000000000"
    for method, request in (("GetPosition", pb.GetPositionRequest(position_id=position)),
                            ("ClosePosition", pb.ClosePositionRequest(position_id=position, price="0.01")),
                            ("UpdatePositionValue", pb.UpdatePositionValueRequest(position_id=position, price="999999")),
                            ("ReconstructPosition", pb.ReconstructPositionRequest(position_id=position))):
        with pytest.raises(grpc.RpcError) as theirs:
            getattr(holdings, method)(request, timeout=10)
        request.position_id = unknown
        with pytest.raises(grpc.RpcError) as nobody:
            getattr(holdings, method)(request, timeout=10)
        assert theirs.value.code() == nobody.value.code() == grpc.StatusCode.NOT_FOUND
        assert theirs.value.details().replace(position, "ID") == nobody.value.details().replace(unknown, "ID")
    assert holdings.ListEvents(pb.ListEventsRequest(position_id=position), timeout=10).events == []
    # By plan id: B's plan under A's client id is not found; under B's id, denied.
    with pytest.raises(grpc.RpcError) as error:
        rebalancing.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=a, plan_id=plan), timeout=10)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    # Analytics over B's history.
    an = M["analytics_pb2"]
    with pytest.raises(grpc.RpcError) as error:
        M["analytics_pb2_grpc"].AnalyticsServiceStub(a_channel).ComputePerformance(an.ComputePerformanceRequest(
            series=an.SeriesInput(history=an.ClientHistory(client_id=b))), timeout=10)
    assert error.value.code() == DENIED and f"clients:read:{b}" in error.value.details()

    # Events: a watch without a client id replays and streams only A's events.
    watch = holdings.WatchEvents(pb.WatchEventsRequest(replay_from_start=True), timeout=3)
    seen = []
    admin, _, _ = secured.admin()
    admin.OpenPosition(pb.OpenPositionRequest(client_id=b, ticker="NVDA", quantity="1", price="1"), timeout=10)
    holdings.OpenPosition(pb.OpenPositionRequest(client_id=a, ticker="NVDA", quantity="1", price="1"), timeout=10)
    try:
        for message in watch:
            seen.append(message.event)
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert seen and {e.client_id for e in seen} == {a}, {e.client_id for e in seen}
    assert any(e.aggregate_id == mine.position.position_id for e in seen)
    assert sum(1 for e in seen if e.event_type == ev.POSITION_OPENED) == 2  # replayed AAPL, live NVDA
    assert event_count(secured, b) == before + 1  # only admin's NVDA buy
    # The audit trail names who did what.
    assert all(e.actor == "token:alice" for e in seen)


def test_a_replay_shows_exactly_the_clients_a_token_names(secured):
    admin, _, _ = secured.admin()
    tag = uuid.uuid4().hex[:6]
    clients = [f"replay-{tag}-{n}" for n in range(4)]
    for client in clients:
        admin.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker="RPL", quantity="1", price="1"), timeout=10)
    reader = secured.stubs(secured.channel(token(f"clients:read:{clients[0]} clients:write:{clients[2]} clients:read:",
                                                 subject="two-clients")))[0]
    seen = set()
    try:
        for message in reader.WatchEvents(pb.WatchEventsRequest(replay_from_start=True), timeout=3):
            seen.add(message.event.client_id)
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert seen == {clients[0], clients[2]}, seen


def test_read_only_and_missing_scopes_are_denied_naming_the_scope(secured):
    a = secured.client_a
    reader = secured.channel(token(f"clients:read:{a}", subject="reader"))
    holdings, costs, _ = secured.stubs(reader)
    admin, _, _ = secured.admin()
    opened = admin.OpenPosition(pb.OpenPositionRequest(client_id=a, ticker="RO", quantity="5", price="10"), timeout=10)
    before = event_count(secured, a)
    assert holdings.GetPosition(pb.GetPositionRequest(position_id=opened.position.position_id), timeout=10).position.quantity == "5"
    for action, scope in (
            (lambda: holdings.OpenPosition(pb.OpenPositionRequest(client_id=a, ticker="RO", quantity="1", price="1"), timeout=10), f"clients:write:{a}"),
            (lambda: holdings.ClosePosition(pb.ClosePositionRequest(position_id=opened.position.position_id), timeout=10), f"clients:write:{a}"),
            (lambda: costs.SellLots(cb.SellLotsRequest(client_id=a, ticker="RO", quantity="1", price="1"), timeout=10), f"clients:write:{a}"),
            (lambda: holdings.PublishPrices(pb.PublishPricesRequest(prices=[M["common_pb2"].PriceQuote(ticker="RO", price="1")]), timeout=10), "prices:publish"),
            (lambda: holdings.ApplyCorporateAction(pb.ApplyCorporateActionRequest(), timeout=10), "corporate-actions:apply")):
        with pytest.raises(grpc.RpcError) as error:
            action()
        assert error.value.code() == DENIED and scope in error.value.details(), error.value.details()
    assert event_count(secured, a) == before
    # With the scope, the same call passes.
    pricer = M["holdings_pb2_grpc"].HoldingsServiceStub(secured.channel(token("prices:publish", subject="pricer")))
    priced = pricer.PublishPrices(pb.PublishPricesRequest(prices=[M["common_pb2"].PriceQuote(ticker="RO", price="12")]), timeout=10)
    assert priced.positions_revalued >= 1
    assert event_count(secured, a) == before + 1


def test_rs256_and_es256_tokens_from_the_jwks(secured):
    a = secured.client_a
    now = int(time.time())
    claims = {"iss": "ultracore-holdings", "aud": ["ultracore-holdings", "other"], "sub": "svc", "exp": now + 600,
              "scope": f"clients:read:{a}"}
    for key, algorithm, kid in ((secured.rsa, "RS256", "rsa-1"), (secured.ec, "ES256", "ec-1")):
        holdings, _, _ = secured.stubs(secured.channel(jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})))
        holdings.ListPositions(pb.ListPositionsRequest(client_id=a), timeout=10)
        with pytest.raises(grpc.RpcError) as error:
            holdings.ListPositions(pb.ListPositionsRequest(client_id=secured.client_b), timeout=10)
        assert error.value.code() == DENIED


def test_client_certificates(secured):
    a, b = secured.client_a, secured.client_b
    holdings, _, _ = secured.stubs(secured.channel(certificate="desk-a"))
    opened = holdings.OpenPosition(pb.OpenPositionRequest(client_id=a, ticker="CERT", quantity="2", price="3"), timeout=10)
    events = holdings.ListEvents(pb.ListEventsRequest(position_id=opened.position.position_id), timeout=10).events
    assert events[0].actor == "certificate:spiffe://bank.test/desk-a"
    with pytest.raises(grpc.RpcError) as error:
        holdings.ListPositions(pb.ListPositionsRequest(client_id=b), timeout=10)
    assert error.value.code() == DENIED and f"clients:read:{b}" in error.value.details()
    # Our CA, but an identity the principals file does not name: authenticated, no scope.
    nobody, _, _ = secured.stubs(secured.channel(certificate="desk-nobody"))
    with pytest.raises(grpc.RpcError) as error:
        nobody.ListPositions(pb.ListPositionsRequest(client_id=a), timeout=10)
    assert error.value.code() == DENIED
    # The same identity from another CA, with or without an otherwise valid token.
    before = event_count(secured, a)
    for token_text in (None, token()):
        evil, _, _ = secured.stubs(secured.channel(token_text, certificate="evil"))
        with pytest.raises(grpc.RpcError) as error:
            evil.OpenPosition(pb.OpenPositionRequest(client_id=a, ticker="CERT", quantity="1", price="1"), timeout=10)
        assert error.value.code() == UNAUTHENTICATED and "not trusted" in error.value.details()
    assert event_count(secured, a) == before


def test_our_swift_client_with_a_token_and_with_a_client_certificate(secured, tmp_path):
    """holdings-load (GRPCClient) over TLS: with a bearer token, with a client certificate, and
    refused without either."""
    from conftest import binary
    token_file = tmp_path / "token"
    token_file.write_text(token("clients:write:*", subject="swift-client"))
    d = secured.dir
    base = [binary("holdings-load"), "--server", secured.address, "--calls", "40", "--concurrency", "4",
            "--connections", "1", "--clients", "7", "--max-seconds", "30", "--ca-file", f"{d}/ca.pem"]
    for extra in (["--token-file", str(token_file)], ["--client-cert", f"{d}/loader.pem", "--client-key", f"{d}/loader.key"]):
        result = subprocess.run(base + extra, capture_output=True, text=True, timeout=120, env={"PATH": os.environ["PATH"]})
        assert result.returncode == 0 and "calls ok 40, errors none" in result.stdout, result.stdout + result.stderr
    result = subprocess.run(base, capture_output=True, text=True, timeout=120, env={"PATH": os.environ["PATH"]})
    assert "calls ok 0" in result.stdout and "UNAUTHENTICATED" in result.stdout + result.stderr, result.stdout + result.stderr


def test_health_is_open_reflection_is_off_and_denials_are_audited(secured):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    channel = secured.channel()
    assert health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    reflect = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                    request_serializer=lambda m: m, response_deserializer=lambda m: m)
    assert code_of(lambda: list(reflect(iter([b""]), timeout=10)))[0] == grpc.StatusCode.UNIMPLEMENTED
    holdings, _, _ = secured.stubs(secured.channel(token(f"clients:read:{secured.client_a}", subject="auditee")))
    with pytest.raises(grpc.RpcError):
        holdings.OpenPosition(pb.OpenPositionRequest(client_id=secured.client_a, ticker="AUD", quantity="1", price="1",
                                                     request_id="audit-me"), timeout=10)
    time.sleep(0.3)
    lines = [json.loads(l) for l in secured.output().splitlines() if l.startswith('{"audit"')]
    denied = [l for l in lines if l["principal"] == "token:auditee" and l["outcome"] == "denied"]
    assert denied and denied[-1]["method"].endswith("/OpenPosition") and denied[-1]["clients"] == [secured.client_a]
    assert denied[-1]["request_id"] == "audit-me" and denied[-1]["code"] == "PERMISSION_DENIED"
    assert any(l["outcome"] == "denied" and l["code"] == "UNAUTHENTICATED" for l in lines)
    writes = [l for l in lines if l["outcome"] == "ok" and l["method"].endswith("/OpenPosition")]
    assert writes and all(l["principal"] != "anonymous" for l in writes)
    # Secrets stay out of the log.
    with open(jwt_secret_file()) as f:
        assert f.read().strip() not in secured.output()


@pytest.mark.parametrize("arguments, needle", [
    ([], "holdingsd serves TLS"),
    (["--plaintext"], "no way to authenticate callers"),
    (["--insecure-dev", "--host", "0.0.0.0"], "loopback"),
    (["--plaintext", "--host", "0.0.0.0", "--jwt-hs256-secret-file", "SECRET"], "loopback"),
    (["--plaintext", "--database-url", "postgresql://postgres:hunter2@127.0.0.1/x"], "password"),
    (["--plaintext", "--database-url", "host=127.0.0.1 password=hunter2"], "password"),
    (["--plaintext", "--kafka-property", "sasl.password=hunter2"], "HOLDINGS_KAFKA_PROPERTIES"),
    (["--plaintext", "--jwt-hs256-secret-file", "SHORT"], "at least 32 bytes"),
])
def test_closed_by_default(arguments, needle, tmp_path):
    short = tmp_path / "short"
    short.write_text("too short")
    arguments = [str(short) if a == "SHORT" else jwt_secret_file() if a == "SECRET" else a for a in arguments]
    result = subprocess.run([holdingsd_binary(), "--port", "0", *arguments], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and needle in result.stderr, result.stderr
    assert "hunter2" not in result.stderr


def test_insecure_dev_warns_loudly_and_stays_on_loopback(postgres):
    process, address = start([holdingsd_binary(), "--port", "0", "--threads", "1", "--insecure-dev",
                              "--database-url", postgres.new_database()])
    try:
        assert "INSECURE DEVELOPMENT MODE" in "".join(process.output)
        holdings = M["holdings_pb2_grpc"].HoldingsServiceStub(grpc.insecure_channel(address))
        opened = holdings.OpenPosition(pb.OpenPositionRequest(client_id="dev", ticker="DEV", quantity="1", price="1"), timeout=10)
        events = holdings.ListEvents(pb.ListEventsRequest(position_id=opened.position.position_id), timeout=10).events
        assert events[0].actor == "insecure-dev:insecure-dev"
    finally:
        stop(process)
