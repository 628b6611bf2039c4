"""The deploy files for a real cluster (deploy/cluster: compose, Kubernetes, systemd, the
Dockerfile, the topic script) cannot run here (no container runtime, no Kafka cluster): they
are checked instead. Every file parses; every flag they pass to holdingsd or the holdings CLI
exists in its --help; ports, roles and names agree between the files."""
import os
import re
import shlex
import subprocess

import yaml
from conftest import ROOT, binary, free_port, holdings_channel, holdingsd_command, start, stop, token

import samples

CLUSTER = os.path.join(ROOT, "deploy", "cluster")


def help_text(*command):
    return subprocess.run([binary(command[0]), *command[1:], "--help"], capture_output=True, text=True, timeout=30).stdout


HOLDINGSD_HELP = None


def holdingsd_flags():
    global HOLDINGSD_HELP
    if HOLDINGSD_HELP is None:
        HOLDINGSD_HELP = set(re.findall(r"(--[a-z0-9-]+)", help_text("holdingsd")))
    return HOLDINGSD_HELP


def check_holdingsd_args(args, where):
    flags = [a for a in args if a.startswith("--")]
    assert flags, where
    unknown = [f for f in flags if f not in holdingsd_flags()]
    assert not unknown, f"{where}: holdingsd has no {unknown}"
    return dict(zip(args, args[1:]))


def nginx_ports():
    """(listen port, REST upstream port, MCP upstream port) of deploy/cluster/nginx.conf."""
    conf = open(os.path.join(CLUSTER, "nginx.conf")).read()
    listen = re.search(r"^\s*listen (\d+) ssl;", conf, re.M).group(1)
    rest = re.search(r"upstream holdings_rest \{\s*server 127\.0\.0\.1:(\d+);", conf).group(1)
    mcp = re.search(r"upstream holdings_mcp \{\s*server 127\.0\.0\.1:(\d+);", conf).group(1)
    return listen, rest, mcp


def check_mcp_args(args, where):
    known = set(re.findall(r"(--[a-z0-9-]+)", subprocess.run([binary("holdings-mcp"), "--help"], capture_output=True, text=True,
                                                              timeout=30).stdout))
    unknown = [a for a in args if a.startswith("--") and a not in known]
    assert known and not unknown, f"{where}: holdings-mcp has no {unknown}"
    assert "--allow-writes" not in args, f"{where}: the MCP front is read-only"
    return dict(zip(args, args[1:]))


def check_cli_command(command, where):
    assert command[0] == "holdings" and command[1] == "health", where
    known = set(re.findall(r"(--[a-z0-9-]+)", help_text("holdings", "health")))
    unknown = [a for a in command if a.startswith("--") and a not in known]
    assert not unknown, f"{where}: holdings health has no {unknown}"


def test_compose_file():
    compose = yaml.safe_load(open(os.path.join(CLUSTER, "compose.yaml")))
    services = compose["services"]
    assert {"kafka", "topics", "postgres", "holdings-api", "holdings-projector"} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    api = check_holdingsd_args(services["holdings-api"]["command"], "compose holdings-api")
    projector = check_holdingsd_args(services["holdings-projector"]["command"], "compose holdings-projector")
    assert api["--role"] == "api" and projector["--role"] == "projector"
    assert api["--kafka-brokers"] == projector["--kafka-brokers"] == "kafka:9092"
    assert services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].endswith("kafka:9092")
    published = [p.split(":")[-1] for p in services["holdings-api"]["ports"]]
    assert api["--port"] in published and api["--metrics-port"] in published
    check_cli_command(services["holdings-api"]["healthcheck"]["test"][1:], "compose healthcheck")
    for service in ("holdings-api", "holdings-projector"):
        for secret in services[service]["secrets"]:
            assert secret in compose["secrets"], secret
    mounted = {"/run/secrets/" + s for s in services["holdings-api"]["secrets"]}
    for flag in ("--tls-cert", "--tls-key", "--jwt-jwks-file"):
        assert api[flag] in mounted, flag
    assert services["holdings-api"]["build"]["dockerfile"] == "deploy/cluster/Dockerfile"
    # The TLS front and the MCP server share holdings-api's network namespace (its loopback).
    listen, rest, mcp_port = nginx_ports()
    assert api["--http-port"] == rest and api["--http-host"] == "127.0.0.1"
    front, mcp = services["holdings-http-front"], services["holdings-mcp"]
    assert front["network_mode"] == mcp["network_mode"] == "service:holdings-api"
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in front["volumes"] and listen in published
    assert {t["target"] for t in front["secrets"]} == {"/etc/holdings/tls/tls.crt", "/etc/holdings/tls/tls.key"}
    assert mcp["entrypoint"] == ["holdings-mcp"]
    mcp_args = check_mcp_args(mcp["command"], "compose holdings-mcp")
    assert mcp_args["--http-port"] == mcp_port and mcp_args["--server"] == "127.0.0.1:" + api["--port"]
    assert {mcp_args["--ca-file"], mcp_args["--token-file"]} <= {"/run/secrets/" + s for s in mcp["secrets"]}
    for secret in mcp["secrets"]:
        assert secret in compose["secrets"], secret


def test_kubernetes_manifests():
    documents = list(yaml.safe_load_all(open(os.path.join(CLUSTER, "k8s", "holdings.yaml"))))
    for document in documents:
        assert document["apiVersion"] and document["kind"] and document["metadata"]["name"], document
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    assert set(deployments) == {"holdings-api", "holdings-projector"}
    roles = {}
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        args = check_holdingsd_args(container["args"], f"k8s {name}")
        roles[name] = args["--role"]
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
        ports = {p["name"]: str(p["containerPort"]) for p in container["ports"]}
        assert ports["metrics"] == args["--metrics-port"]
        if "--port" in args:
            assert ports["grpc"] == args["--port"]
        env = {e["name"] for e in container["env"]}
        assert "HOLDINGS_DATABASE_URL" in env  # never a password on the command line
        assert not any("password" in a for a in container["args"])
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        for flag in ("--tls-cert", "--tls-key", "--jwt-jwks-file"):
            if flag in args:
                assert os.path.dirname(args[flag]) in mounts, flag
        for probe in ("readinessProbe", "livenessProbe"):
            if "exec" in container.get(probe, {}):
                check_cli_command(container[probe]["exec"]["command"], f"k8s {name} {probe}")
                assert args["--port"] in container[probe]["exec"]["command"][3]
    assert roles == {"holdings-api": "api", "holdings-projector": "projector"}
    assert deployments["holdings-api"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]  # grpc.health.v1
    service = next(d for d in documents if d["kind"] == "Service")
    pod = deployments["holdings-api"]["spec"]["template"]["spec"]
    api_ports = {p["name"] for c in pod["containers"] for p in c.get("ports", [])}
    # The nginx sidecar serves deploy/cluster/nginx.conf itself; the MCP sidecar reaches this pod's holdingsd.
    containers = {c["name"]: c for c in pod["containers"]}
    nginx = next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "holdings-nginx")
    assert nginx["data"]["nginx.conf"] == open(os.path.join(CLUSTER, "nginx.conf")).read()
    listen, rest, mcp_port = nginx_ports()
    api = check_holdingsd_args(containers["holdingsd"]["args"], "k8s api")
    assert api["--http-port"] == rest and api["--http-host"] == "127.0.0.1"
    assert {p["containerPort"] for p in containers["http-front"]["ports"]} == {int(listen)}
    assert containers["mcp"]["command"] == ["holdings-mcp"]
    mcp_args = check_mcp_args(containers["mcp"]["args"], "k8s mcp")
    assert mcp_args["--http-port"] == mcp_port and mcp_args["--server"] == "127.0.0.1:" + api["--port"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for name in ("http-front", "mcp"):
        for mount in containers[name]["volumeMounts"]:
            assert mount["name"] in volumes, (name, mount)
    assert volumes["nginx"]["configMap"]["name"] == "holdings-nginx"
    mounts = {m["mountPath"] for m in containers["mcp"]["volumeMounts"]}
    assert os.path.dirname(mcp_args["--ca-file"]) in mounts and os.path.dirname(mcp_args["--token-file"]) in mounts
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= api_ports
    assert service["spec"]["selector"] == deployments["holdings-api"]["spec"]["selector"]["matchLabels"]
    secrets = {d["metadata"]["name"] for d in documents if d["kind"] == "Secret"}
    for deployment in deployments.values():
        for entry in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
            assert entry["valueFrom"]["secretKeyRef"]["name"] in secrets


def test_systemd_unit_dockerfile_and_topics():
    unit = open(os.path.join(CLUSTER, "holdingsd.service")).read()
    sections = re.findall(r"^\[(\w+)\]$", unit, re.M)
    assert sections == ["Unit", "Service", "Install"]
    exec_start = re.search(r"^ExecStart=((?:.*\\\n)*.*)$", unit, re.M).group(1).replace("\\\n", " ")
    command = shlex.split(exec_start)
    assert command[0] == "/usr/local/bin/holdingsd"
    assert check_holdingsd_args(command[1:], "systemd")["--role"] == "api"
    dockerfile = open(os.path.join(CLUSTER, "Dockerfile")).read()
    package = open(os.path.join(ROOT, "Package.swift")).read()
    for product in re.findall(r"--product (\S+)", dockerfile):
        assert f'.executable(name: "{product}"' in package, product
    script = os.path.join(CLUSTER, "create-topics.sh")
    assert subprocess.run(["bash", "-n", script]).returncode == 0
    created = set(re.findall(r"^create (\S+)", open(script).read(), re.M))
    help_topics = set(re.findall(r"holdings\.<role>", help_text("holdingsd")))
    assert help_topics  # the default names are holdings.<role>
    roles = {"positions", "agent-alerts", "dead-letters", "lineage"}
    assert created == {f"holdings.{role}" for role in roles}
    topics_doc = open(os.path.join(CLUSTER, "topics.md")).read()
    for topic in created:
        assert f"`{topic}`" in topics_doc


def test_the_nginx_front_runs_for_real(postgres, tmp_path):
    """deploy/cluster/nginx.conf under Debian's nginx, in front of a real holdingsd (REST on
    loopback) and holdings-mcp (streamable HTTP on loopback): TLS in, the same answers out.
    Only the ports and the certificate and scratch paths are swapped."""
    import json
    import ssl
    import time
    import urllib.request
    M = samples.holdings_modules()
    pb = M["holdings_pb2"]
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(tmp_path / "tls.key"),
                    "-out", str(tmp_path / "tls.crt")], check=True, capture_output=True, timeout=60)
    listen, rest, mcp_port = nginx_ports()
    ports = {listen: str(free_port()), rest: str(free_port()), mcp_port: str(free_port())}
    conf = open(os.path.join(CLUSTER, "nginx.conf")).read()
    conf = conf.replace(f"listen {listen} ssl;", f"listen 127.0.0.1:{ports[listen]} ssl;")
    conf = conf.replace(f"127.0.0.1:{rest};", f"127.0.0.1:{ports[rest]};").replace(f"127.0.0.1:{mcp_port};", f"127.0.0.1:{ports[mcp_port]};")
    conf = conf.replace(" /tmp/", f" {tmp_path}/").replace("/etc/holdings/tls/", f"{tmp_path}/")
    (tmp_path / "nginx.conf").write_text(conf)
    token_file = tmp_path / "token"
    token_file.write_text(token("admin"))
    daemon, address = start(holdingsd_command(postgres.new_database(), "--no-agent", "--http-port", ports[rest], "--http-host", "127.0.0.1"))
    mcp = nginx = None
    try:
        mcp, _ = start([binary("holdings-mcp"), "--server", address, "--token-file", str(token_file), "--transport", "http",
                        "--http-port", ports[mcp_port], "--http-host", "127.0.0.1"])
        tested = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], capture_output=True, text=True, timeout=30)
        assert tested.returncode == 0, tested.stderr
        nginx = subprocess.Popen(["nginx", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-g", "daemon off;"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        context = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))
        base = f"https://localhost:{ports[listen]}"

        def fetch(path, body=None, headers=None):
            request = urllib.request.Request(base + path, data=body, headers=headers or {}, method="POST" if body else "GET")
            for _ in range(50):
                try:
                    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
                        return answer.status, answer.headers, answer.read()
                except urllib.error.URLError as error:
                    if isinstance(error, urllib.error.HTTPError) or nginx.poll() is not None:
                        raise
                    time.sleep(0.1)  # nginx still starting
            raise AssertionError("nginx never answered")

        status, _, spec = fetch("/openapi.json")
        assert status == 200 and json.loads(spec)["openapi"].startswith("3.")
        client = "ngx-" + os.urandom(4).hex()
        stub = M["holdings_pb2_grpc"].HoldingsServiceStub(holdings_channel(address))
        opened = stub.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker="NGX", quantity="3", price="7"), timeout=10)
        auth = {"Authorization": "Bearer " + token("admin")}
        status, _, body = fetch(f"/api/v1/holdings/positions/{opened.position.position_id}", headers=auth)
        assert status == 200 and json.loads(body)["position"]["quantity"] == "3"
        try:
            fetch(f"/api/v1/holdings/positions/{opened.position.position_id}")
            raise AssertionError("no token passed")
        except urllib.error.HTTPError as error:
            assert error.code == 401  # the gateway's answer, through the proxy
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "deploy-test", "version": "1"}}}
        status, _, body = fetch("/mcp", json.dumps(initialize).encode(), {"Content-Type": "application/json",
                                                                          "Accept": "application/json, text/event-stream"})
        assert status == 200 and json.loads(body)["result"]["serverInfo"]["name"], body
    finally:
        for process in (nginx, mcp, daemon):
            if process is not None:
                stop(process)
