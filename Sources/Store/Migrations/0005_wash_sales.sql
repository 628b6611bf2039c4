-- Wash sales (IRS Pub. 550; the WashSaleMatch comment of common.proto).

-- A replacement lot's holding period starts before its acquisition, and its basis holds a
-- disallowed loss (NULL for the other lots).
ALTER TABLE lots ADD COLUMN holding_start timestamptz;
ALTER TABLE lots ADD COLUMN wash_sale_adjustment numeric;

-- Loss parts of sales with shares not yet matched with replacement shares (the ledger a
-- buy is matched against), and the losses later buys disallowed (GetRealizedGains).
CREATE TABLE wash_sale_losses (
    sale_event_id  uuid        NOT NULL,
    part_index     integer     NOT NULL,
    client_id      text        NOT NULL,
    ticker         text        NOT NULL,
    position_id    text        NOT NULL,
    lot_id         text        NOT NULL,
    sold_at        timestamptz NOT NULL,
    holding_start  timestamptz NOT NULL,
    quantity       numeric     NOT NULL,
    loss           numeric     NOT NULL,
    unmatched      numeric     NOT NULL,
    -- Loss disallowed by later buys (the sale's own matches are in its event).
    disallowed     numeric     NOT NULL DEFAULT 0,
    PRIMARY KEY (sale_event_id, part_index)
);
CREATE INDEX wash_sale_losses_open ON wash_sale_losses (client_id, ticker) WHERE unmatched > 0;
