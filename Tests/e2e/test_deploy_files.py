"""The deploy files for a real cluster (deploy/cluster: compose, Kubernetes, systemd, the
Dockerfile, the topic script) cannot run here (no container runtime, no Kafka cluster): they
are checked instead. Every file parses; every flag they pass to holdingsd or the holdings CLI
exists in its --help; ports, roles and names agree between the files."""
import os
import re
import shlex
import subprocess

import yaml
from conftest import ROOT, binary

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
    api_ports = {p["name"] for p in deployments["holdings-api"]["spec"]["template"]["spec"]["containers"][0]["ports"]}
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
