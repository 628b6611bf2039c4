"""Structured logs: with --log-format json every line holdingsd writes (stdout and stderr,
librdkafka's own lines and the audit trail included) is one JSON object with time, level,
component and message; request and client ids ride on the audit lines of writes and on every
line written inside a call."""
import json
import re
import time
import uuid

from conftest import holdingsd_command, holdings_channel, start, stop

import samples
from test_trust import wait_for

M = samples.holdings_modules()
pb = M["holdings_pb2"]
LEVELS = {"debug", "info", "warning", "error"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_json_log_lines_from_every_part(postgres):
    process, address = start(holdingsd_command(postgres.new_database(), "--no-agent", "--log-format", "json",
                                               "--kafka-property", "debug=broker"))
    try:
        stub = M["holdings_pb2_grpc"].HoldingsServiceStub(holdings_channel(address))
        client, request_id = "log-" + uuid.uuid4().hex[:8], uuid.uuid4().hex
        stub.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker="LOG", quantity="10", price="2", request_id=request_id), timeout=10)
        wait_for(lambda: request_id in "".join(process.output))
        # A line written inside a call carries the call's method, client and request id.
        rb, ev = M["rebalancing_pb2"], M["events_pb2"]
        rebalancing = M["rebalancing_pb2_grpc"].RebalancingServiceStub(holdings_channel(address))
        plan = rebalancing.PlanRebalancing(rb.PlanRebalancingRequest(client_id=client, target_weights={"LOG": "0.5", "LOGB": "0.5"},
                                                                     prices={"LOGB": "1"}, strategy=ev.THRESHOLD,
                                                                     band=ev.DriftBand(absolute="0.01")), timeout=10)
        execute_id = uuid.uuid4().hex
        rebalancing.ExecuteRebalancing(rb.ExecuteRebalancingRequest(client_id=client, plan_id=plan.plan_id, request_id=execute_id), timeout=10)
        wait_for(lambda: execute_id in "".join(process.output))
        time.sleep(0.5)
    finally:
        stop(process)
    lines = [line for line in process.output if line.strip()]
    objects = []
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert isinstance(entry, dict), line
        assert RFC3339.match(entry["time"]) and entry["level"] in LEVELS and entry["component"] and "message" in entry, line
        objects.append(entry)
    components = {entry["component"] for entry in objects}
    assert "kafka" in components, components  # librdkafka's own lines, routed through our logger
    assert any(e["component"] == "holdingsd" and "listening on" in e["message"] for e in objects)
    audit = [e for e in objects if e["component"] == "audit" and e.get("request_id") == request_id]
    assert len(audit) == 1 and audit[0]["clients"] == [client] and audit[0]["level"] == "info" and audit[0]["outcome"] == "ok"
    executed = [e for e in objects if e["component"] == "rebalancing"]
    assert len(executed) == 1 and executed[0]["level"] == "info" and "executed 2 trades" in executed[0]["message"], executed
    assert executed[0]["method"] == "/ultracore.holdings.v1.RebalancingService/ExecuteRebalancing"
    assert executed[0]["client_id"] == client and executed[0]["request_id"] == execute_id and executed[0]["rebalancing_id"].startswith("reb")


def test_log_format_is_checked():
    import subprocess
    from conftest import holdingsd_binary
    result = subprocess.run([holdingsd_binary(), "--log-format", "xml"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--log-format is text or json, not xml" in result.stderr
