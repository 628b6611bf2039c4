"""Schema evolution: every stored version of the event schema decodes with the current
protos (Tests/Fixtures/events-schema-N.txt, never edited). A renumbered, retyped or removed
field shows up here as an unknown field, a type error or a payload that no longer matches
its event type; the Swift codec is checked on the same files by SchemaEvolutionTests."""
import base64
import glob
import os

from google.protobuf.unknown_fields import UnknownFieldSet

import samples

M = samples.holdings_modules()
ev = M["events_pb2"]
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "Fixtures")


def fixture_events():
    for path in sorted(glob.glob(os.path.join(FIXTURES, "events-schema-*.txt"))):
        version = int(path.rsplit("-", 1)[1].split(".")[0])
        for line in open(path):
            if line.startswith("#") or not line.strip():
                continue
            kind, origin, body = line.split()
            yield version, kind, origin, base64.b64decode(body)


def unknown_fields(message, path="Event"):
    """Paths of every (sub)message holding fields the current schema does not know."""
    found = [path] if len(UnknownFieldSet(message)) else []
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        for index, item in enumerate(value if field.is_repeated else [value]):
            found += unknown_fields(item, f"{path}.{field.name}[{index}]")
    return found


def test_every_stored_event_version_decodes_with_the_current_protos():
    seen = {}
    for version, kind, origin, body in fixture_events():
        event = ev.Event.FromString(body)
        assert event.schema_version == version, (kind, event.schema_version)
        assert ev.EventType.Name(event.event_type) == kind
        payload = event.WhichOneof("payload")
        assert payload and payload.upper() == kind, (kind, payload)
        assert not unknown_fields(event), (kind, unknown_fields(event))
        assert event.event_id and event.aggregate_id and event.HasField("occurred_at")
        seen.setdefault(version, set()).add(kind)
    # Version 1 covers every event type of the contract.
    every = {name for name in ev.EventType.keys() if name != "EVENT_TYPE_UNSPECIFIED"}
    assert seen[1] == every, every - seen[1]
