-- Requests that change many clients at once (PublishPrices) are found by request id alone.
CREATE INDEX events_request_id ON events (request_id) WHERE request_id <> '';
