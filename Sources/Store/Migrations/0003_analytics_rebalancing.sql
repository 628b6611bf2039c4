-- Read models of analytics and rebalancing.

-- Every valuation of a position: its market value from that instant on. A closed
-- position is worth 0 from its closing. A client's portfolio value at t is the sum of
-- the last row at or before t of each of its positions.
CREATE TABLE valuation_history (
    event_id     uuid        PRIMARY KEY,
    client_id    text        NOT NULL,
    position_id  text        NOT NULL,
    valued_at    timestamptz NOT NULL,
    market_value numeric     NOT NULL,
    kafka_offset bigint      NOT NULL
);
CREATE INDEX valuation_history_client ON valuation_history (client_id, valued_at, kafka_offset);

-- Rebalancing schedules as of their last REBALANCING_SCHEDULED event.
CREATE TABLE rebalancing_schedules (
    schedule_id  text        PRIMARY KEY,
    client_id    text        NOT NULL UNIQUE,
    version      bigint      NOT NULL,
    -- The RebalancingSchedule message (protobuf).
    body         bytea       NOT NULL,
    enabled      boolean     NOT NULL,
    next_run_at  timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX rebalancing_schedules_due ON rebalancing_schedules (next_run_at) WHERE enabled;

-- Rebalancing runs: which rebalancing ids completed (their trades apply) and which were
-- abandoned (their recorded trades are void; each still uses its position version).
CREATE TABLE rebalancing_runs (
    rebalancing_id text        PRIMARY KEY,
    client_id      text        NOT NULL,
    outcome        text        NOT NULL CHECK (outcome IN ('COMPLETED', 'ABORTED')),
    decided_at     timestamptz NOT NULL
);

-- The rebalancing run an event belongs to (TRADE_EXECUTED and the run's own events).
ALTER TABLE events ADD COLUMN rebalancing_id text NOT NULL DEFAULT '';
CREATE INDEX events_rebalancing ON events (rebalancing_id, kafka_offset) WHERE rebalancing_id <> '';
