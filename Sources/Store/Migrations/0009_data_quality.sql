-- Data quality and lineage (DataMeshService): every event's score and failed rules as the
-- projector judged them (DataQuality in Sources/Domain), the time the log received it, and
-- its correlation and causation ids (for GetLineage). Rows stored before this migration
-- are filled in from their bodies by the projector when it starts (quality_score NULL).
ALTER TABLE events
    ADD COLUMN quality_score  smallint CHECK (quality_score BETWEEN 0 AND 100),
    ADD COLUMN failed_rules   text[],
    ADD COLUMN ingested_at    timestamptz,
    ADD COLUMN correlation_id text NOT NULL DEFAULT '',
    ADD COLUMN causation_id   text NOT NULL DEFAULT '';
CREATE INDEX events_unscored ON events (recorded_at) WHERE quality_score IS NULL;
CREATE INDEX events_correlation ON events (correlation_id) WHERE correlation_id <> '';
CREATE INDEX events_causation ON events (causation_id) WHERE causation_id <> '';

-- A record quarantined for its quality names the critical rules it failed; it does not
-- hold back later events of its aggregate (failed_rules non-empty), unlike a record that
-- does not fit its aggregate.
ALTER TABLE dead_letters
    ADD COLUMN failed_rules text[] NOT NULL DEFAULT '{}',
    ADD COLUMN ingested_at  timestamptz;

-- Freshness (ListMaterializedViews): per read model, the occurred_at of the last event
-- applied to it and when the projector committed it; per partition, the log timestamp of
-- the last record applied (time lag = now − that, while records wait).
CREATE TABLE view_freshness (
    view_name       text        PRIMARY KEY,
    last_event_at   timestamptz NOT NULL,
    last_applied_at timestamptz NOT NULL
);
ALTER TABLE consumer_offsets ADD COLUMN last_record_at timestamptz;
