-- The audit trail, the first read models and the projector's Kafka offsets.

-- Every event, exactly once per (aggregate_id, aggregate_version).
CREATE TABLE events (
    event_id          uuid PRIMARY KEY,
    aggregate_id      text        NOT NULL,
    aggregate_version bigint      NOT NULL CHECK (aggregate_version > 0),
    event_type        text        NOT NULL,
    client_id         text        NOT NULL,
    occurred_at       timestamptz NOT NULL,
    request_id        text        NOT NULL DEFAULT '',
    -- SHA-256 of the request that produced the event (hex); a retry must match it.
    request_digest    text        NOT NULL DEFAULT '',
    -- The protobuf Event as produced to Kafka.
    body              bytea       NOT NULL,
    topic             text        NOT NULL,
    kafka_partition   integer     NOT NULL,
    kafka_offset      bigint      NOT NULL,
    -- When the projector committed the row (projector lag = recorded_at - ack time).
    recorded_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (aggregate_id, aggregate_version)
);
CREATE INDEX events_client ON events (client_id, occurred_at, aggregate_id, aggregate_version);
CREATE INDEX events_request ON events (client_id, request_id) WHERE request_id <> '';

-- Read model: one row per position, the state after its last event.
CREATE TABLE positions (
    position_id    text PRIMARY KEY,
    client_id      text        NOT NULL,
    ticker         text        NOT NULL,
    status         text        NOT NULL,
    quantity       numeric     NOT NULL,
    cost_basis     numeric     NOT NULL,
    realized_gain  numeric     NOT NULL,
    last_price     numeric,
    last_priced_at timestamptz,
    opened_at      timestamptz NOT NULL,
    closed_at      timestamptz,
    version        bigint      NOT NULL,
    updated_at     timestamptz NOT NULL,
    next_lot       integer     NOT NULL
);
CREATE INDEX positions_client ON positions (client_id, opened_at, position_id);
CREATE UNIQUE INDEX positions_open_ticker ON positions (client_id, ticker) WHERE status = 'OPEN';

-- Read model: the open lots of each position.
CREATE TABLE lots (
    position_id       text        NOT NULL REFERENCES positions (position_id),
    lot_id            text        NOT NULL,
    seq               integer     NOT NULL,
    acquired_at       timestamptz NOT NULL,
    quantity          numeric     NOT NULL,
    original_quantity numeric     NOT NULL,
    -- Exact basis of the open shares (fees included); unit cost = cost_basis / quantity.
    cost_basis        numeric     NOT NULL,
    fees              numeric     NOT NULL,
    source_event_id   uuid        NOT NULL,
    PRIMARY KEY (position_id, lot_id)
);

-- The projector's position in each partition: the next offset to read.
CREATE TABLE consumer_offsets (
    consumer_group  text    NOT NULL,
    topic           text    NOT NULL,
    kafka_partition integer NOT NULL,
    next_offset     bigint  NOT NULL,
    PRIMARY KEY (consumer_group, topic, kafka_partition)
);

-- Records of the event topics that are not decodable events: kept, never applied.
CREATE TABLE rejected_records (
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    reason          text        NOT NULL,
    body            bytea       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);
