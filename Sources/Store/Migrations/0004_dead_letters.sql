-- The projection is a pure function of the log.
--
-- "One open position per client and ticker" is decided by the write model, which refuses a
-- second open position before it produces anything. Re-checking it in the read model with a
-- unique index made valid logs fail: a close and a reopen of one ticker in the same batch
-- were written in position-id order, and when the new position's id sorted first the
-- insert met the old row still OPEN. A plain index serves the lookups.
DROP INDEX positions_open_ticker;
CREATE INDEX positions_open ON positions (client_id, ticker) WHERE status = 'OPEN';

-- Records of the log that the projection could not take: not an event, a version that is
-- already taken or does not follow, an event that does not fit its aggregate or whose
-- result leaves the documented ranges, and every later event of an aggregate blocked by an
-- earlier one. The partition moves on; the record waits here (and on the dead-letter topic)
-- until the projector, started with a fixed build, replays it (replayed_at set).
CREATE TABLE dead_letters (
    topic             text        NOT NULL,
    kafka_partition   integer     NOT NULL,
    kafka_offset      bigint      NOT NULL,
    event_id          text        NOT NULL DEFAULT '',
    aggregate_id      text        NOT NULL DEFAULT '',
    aggregate_version bigint      NOT NULL DEFAULT 0,
    client_id         text        NOT NULL DEFAULT '',
    event_type        text        NOT NULL DEFAULT '',
    reason            text        NOT NULL,
    body              bytea       NOT NULL,
    dead_lettered_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    replayed_at       timestamptz,
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);
CREATE INDEX dead_letters_open ON dead_letters (aggregate_id) WHERE replayed_at IS NULL;

INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, reason, body, dead_lettered_at)
SELECT topic, kafka_partition, kafka_offset, reason, body, recorded_at FROM rejected_records;
DROP TABLE rejected_records;
