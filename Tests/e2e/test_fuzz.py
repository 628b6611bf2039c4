"""A bounded fuzz of every method of the implemented services, through grpcio against a
holdingsd of its own: random requests built from the descriptors with hostile values in
every field (decimal strings, ids, U+0000, extreme numbers, unknown enum values, invalid
timestamps, long lists), and mutated bytes of valid requests. Every call must end with a
status other than UNKNOWN or INTERNAL; afterwards the process serves, the projection took
every event the service accepted (no dead letter: the write model and the projector decide
alike), and the audit trail holds each (position, version) once.

FUZZ_COUNT (default 2500) bounds the number of calls; FUZZ_SEED picks the sequence (a fixed
default, so that CI is reproducible; other seeds by hand)."""
import os
import random
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import samples
from conftest import holdings_channel, holdingsd_command, start, stop

M = samples.holdings_modules()
COUNT = int(os.environ.get("FUZZ_COUNT", "2500"))
SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
SERVICES = ["holdings", "cost_basis", "analytics", "rebalancing"]

DECIMALS = ["", "0", "1", "-1", "0.5", "100.25", "1e5", "NaN", "Infinity", "-0", "00001", ".5", "5.", "+1", "1,000", "0x10",
            "9" * 40, "9" * 16, "1000000000000000", "1000000000000000.0000000001", "0." + "0" * 30 + "1",
            "0.0000000001", "99999999999999999999999", "1.2.3", " 1", "1 ", "١٢٣", "\u202e1", "-" + "9" * 35, "12.3456789012345",
            "9" + "0" * 35, "0.000000000000000001"]
IDS = ["", "c1", "client-a", "AAPL", "MSFT", "abc\x00x", "a" * 129, "a b", "\u00e9", "pos-1", "L1", "L99", "\x7f", "\t",
       "ZZZ.B", "a" * 5000]


def hostile_string(rng):
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(DECIMALS)
    if roll < 0.85:
        return rng.choice(IDS)
    return "".join(chr(rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0, 0x20), rng.randrange(0xa0, 0x3000)]))
                   for _ in range(rng.randrange(0, 20)))


POSITIONS = []  # ids answered by OpenPosition, for plausible requests
PLAUSIBLE = {
    "client_id": ["fz1", "fz2", "fz3"], "ticker": ["FZA", "FZB", "FZC"],
    "quantity": ["1", "2.5", "10", "0.001", "100"], "price": ["1", "99.5", "150", "0.25"],
    "fees": ["", "0", "1.5"], "cash_in_lieu_price": ["10", "55.5"], "dividend_per_share": ["0.5", "1"],
    "reinvestment_price": ["20", "33.3"], "amount": ["10", "-5"], "min_loss": ["", "1"],
    "split_to": ["2", "3", "1"], "split_from": ["1", "2", "7"], "values": ["100", "110", "95.5"],
}


def plausible_string(field, rng):
    if field.name == "position_id" and POSITIONS:
        return rng.choice(POSITIONS)
    if field.name == "request_id":
        return rng.choice(["", f"fz-{rng.randrange(50)}"])
    return rng.choice(PLAUSIBLE.get(field.name, [""]))


def fill(message, rng, depth=0, plausible=False):
    """Sets a random subset of the message's fields to hostile values (plausible ones, each
    with a small chance of a hostile one, when `plausible`)."""
    from google.protobuf.descriptor import FieldDescriptor as F
    for field in message.DESCRIPTOR.fields:
        if rng.random() < (0.1 if plausible else 0.35):
            continue
        if plausible and field.type == F.TYPE_STRING and rng.random() > 0.08:
            value = plausible_string(field, rng)
            if field.is_repeated:
                getattr(message, field.name).extend(rng.choice(PLAUSIBLE.get(field.name, [""])) for _ in range(rng.randrange(2, 6)))
            else:
                setattr(message, field.name, value)
            continue
        if plausible and field.type == F.TYPE_ENUM and not field.is_repeated and rng.random() > 0.08:
            setattr(message, field.name, rng.choice([v.number for v in field.enum_type.values if v.number != 0] or [0]))
            continue
        if plausible and field.type == F.TYPE_DOUBLE and rng.random() > 0.08:
            if field.is_repeated:
                getattr(message, field.name).extend(rng.uniform(-0.05, 0.05) for _ in range(rng.randrange(2, 30)))
            else:
                setattr(message, field.name, rng.choice([0.0, 252.0, 0.01]))
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            target = getattr(message, field.name)
            for _ in range(rng.randrange(0, 4)):
                key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
                key = hostile_string(rng) if key_field.type == F.TYPE_STRING else rng.randrange(-5, 5)
                if value_field.type == F.TYPE_STRING:
                    target[key] = hostile_string(rng)
                elif value_field.message_type is None:
                    target[key] = scalar(value_field, rng)
                else:
                    fill(target[key], rng, depth + 1)
            continue
        count = (rng.choice([0, 1, 2, 3, 200]) if field.is_repeated else 1)
        for _ in range(count):
            if field.message_type is not None:
                if depth > 3:
                    break
                if field.message_type.full_name == "google.protobuf.Timestamp":
                    value = (getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name))
                    if plausible and rng.random() > 0.08:
                        value.seconds, value.nanos = rng.randrange(1577836800, 1767225600), 0
                        continue
                    value.seconds = rng.choice([0, -62135596801, -62135596800, 253402300799, 253402300800, 1767225600,
                                                -2208988801, 1893456000, rng.randrange(-10**11, 10**11)])
                    value.nanos = rng.choice([0, 1, 999999999, 1000000000, -1, 1000, rng.randrange(0, 10**9)])
                    continue
                child = getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name)
                fill(child, rng, depth + 1, plausible)
                if not field.is_repeated and child.ByteSize() == 0:
                    child.SetInParent()
            else:
                value = hostile_string(rng) if field.type == F.TYPE_STRING else scalar(field, rng)
                if field.is_repeated:
                    getattr(message, field.name).append(value)
                else:
                    setattr(message, field.name, value)
    return message


def scalar(field, rng):
    from google.protobuf.descriptor import FieldDescriptor as F
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return rng.choice([0.0, -0.0, 1.0, -1.0, -1.5, 252.0, 1e308, -1e308, float("nan"), float("inf"), float("-inf"), 5e-324, rng.uniform(-2, 2)])
    if field.type == F.TYPE_BOOL:
        return rng.random() < 0.5
    if field.type == F.TYPE_ENUM:
        return rng.choice([v.number for v in field.enum_type.values] + [999, -5, 2**31 - 1])
    if field.type == F.TYPE_BYTES:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
    if field.type in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return rng.choice([0, 1, 2**32 - 1, rng.randrange(2**32)])
    if field.type in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return rng.choice([0, 1, 2**64 - 1, rng.randrange(2**64)])
    if field.type in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return rng.choice([0, 1, -1, 2**31 - 1, -2**31, 1000, 1001, rng.randrange(-2**31, 2**31)])
    return rng.choice([0, 1, -1, 2**63 - 1, -2**63, rng.randrange(-2**63, 2**63)])


def methods():
    found = []
    for name in SERVICES:
        module = M[f"{name}_pb2"]
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                request = getattr(M[method.input_type.file.name.split("/")[-1].replace(".proto", "_pb2")], method.input_type.name)
                found.append((f"/{service.full_name}/{method.name}", request, method.server_streaming))
    return found


def mutate(data, rng):
    data = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        roll = rng.random()
        if roll < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif roll < 0.6 and data:
            del data[rng.randrange(len(data)):]
        elif roll < 0.8:
            position = rng.randrange(len(data) + 1)
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        else:
            data += bytes([rng.randrange(256)]) * rng.randrange(1, 12)
    return bytes(data)


def test_every_method_survives_hostile_requests(postgres):
    url = postgres.new_database()
    process, address = start(holdingsd_command(url))
    rng = random.Random(SEED)
    seen = {}
    try:
        channel = holdings_channel(address)
        calls = methods()
        assert len(calls) >= 25
        for number in range(COUNT):
            path, request_class, streaming = rng.choice(calls)
            plausible = rng.random() < 0.6
            request = fill(request_class(), rng, plausible=plausible)
            body = request.SerializeToString()
            if not plausible and rng.random() < 0.4:
                body = mutate(body, rng)
            invoke = (channel.unary_stream if streaming else channel.unary_unary)(
                path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            code = grpc.StatusCode.OK
            try:
                result = invoke(body, timeout=1 if streaming else 20)
                if streaming:
                    for _ in result:
                        pass
                elif path.endswith("/OpenPosition"):
                    answer = M["holdings_pb2"].OpenPositionResponse.FromString(result)
                    if answer.position.position_id not in POSITIONS:
                        POSITIONS.append(answer.position.position_id)
            except grpc.RpcError as error:
                code = error.code()
                allowed_deadline = streaming  # a WatchEvents stream runs until its deadline
                assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), \
                    f"seed {SEED} call {number} {path}: {code} {error.details()} request {body!r}"[:3000]
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    assert allowed_deadline, f"seed {SEED} call {number} {path} timed out: {body!r}"[:3000]
            seen[(path, code)] = seen.get((path, code), 0) + 1
            assert process.poll() is None, f"seed {SEED}: holdingsd died at call {number} {path}"
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
        # Everything accepted was projected: no dead letter, each (position, version) once.
        time.sleep(1)
        assert postgres.psql(url, "SELECT count(*) FROM dead_letters").strip() == "0", \
            postgres.psql(url, "SELECT reason FROM dead_letters LIMIT 5")
        assert health.Check(health_pb2.HealthCheckRequest(service="holdings.projection"), timeout=10).status == \
            health_pb2.HealthCheckResponse.SERVING
        count, distinct = postgres.psql(url, "SELECT count(*), count(DISTINCT (aggregate_id, aggregate_version)) FROM events").strip().split("|")
        assert count == distinct
        ok_paths = {path for (path, code) in seen if code == grpc.StatusCode.OK}
        assert len(ok_paths) >= 15, f"the fuzz reached too few successful paths: {sorted(ok_paths)}"
    finally:
        print(f"fuzz seed {SEED}: {sum(seen.values())} calls, outcomes {sorted((p.split('/')[-1], c.name, n) for (p, c), n in seen.items())}")
        stop(process)
