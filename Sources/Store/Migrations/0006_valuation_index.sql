-- MonitorPortfolio reads a client's price history from its POSITION_VALUED events. Through
-- events_client it visited every event of the client (20,000 opens of a big client for none
-- valued); this partial index holds only valuations, in the order the read wants them.
CREATE INDEX events_valued ON events (client_id, aggregate_id, aggregate_version) WHERE event_type = 'POSITION_VALUED';
