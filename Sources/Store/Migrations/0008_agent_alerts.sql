-- The monitoring agent's alerts (AGENT_ALERT, ALERT_ACKNOWLEDGED on holdings.agent-alerts):
-- one row per alert, open until cleared; what ListAlerts reads and the agent reloads.
CREATE TABLE agent_alerts (
    alert_id        text        PRIMARY KEY,
    client_id       text        NOT NULL,
    kind            text        NOT NULL,
    raised_event_id text        NOT NULL,
    raised_at       timestamptz NOT NULL,
    raised_body     bytea       NOT NULL,
    cleared_at      timestamptz,
    cleared_body    bytea,
    acknowledged_at timestamptz,
    acknowledged_by text,
    note            text,
    acknowledged_event_id   text,
    acknowledged_request_id text
);
CREATE INDEX agent_alerts_client ON agent_alerts (client_id, raised_at DESC);
CREATE INDEX agent_alerts_open ON agent_alerts (client_id) WHERE cleared_at IS NULL;
