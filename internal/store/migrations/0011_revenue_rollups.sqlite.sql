-- Revenue rollups: what revenue reports add up, summed per workspace, day
-- (UTC days since the epoch of when the order was placed), attribution
-- model and what is credited, written in the transaction that applies each
-- order, refund and cancellation (internal/orders/rollup.go). model is an
-- attribution model, '' when the credit is the same under every model, or
-- '-' for orders nothing touched (their money in the halo columns). Money
-- is in minor units of the reporting currency, orders in millionths of an
-- order. On PostgreSQL concurrent orders spread their credit over 16
-- copies of each row (shard), so none waits on another's row lock; on
-- SQLite shard is 0. SQLite: the table of 0011_revenue_rollups.sql as a WITHOUT ROWID table;
-- keep the two files the same but for that.
CREATE TABLE revenue_rollups (
    workspace_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    model TEXT NOT NULL,
    post_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    offer_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    shard INTEGER NOT NULL,
    deal_gross BIGINT NOT NULL,
    deal_refunded BIGINT NOT NULL,
    halo_gross BIGINT NOT NULL,
    halo_refunded BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, day, model, post_id, account_id, offer_id, member_id, shard)
) WITHOUT ROWID;

-- Workspaces whose orders came before rollups did: their reports are
-- computed from touches until their rollups are built (once, by roost serve).
CREATE TABLE revenue_rollup_pending (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE
);
INSERT INTO revenue_rollup_pending (workspace_id) SELECT DISTINCT workspace_id FROM orders;
