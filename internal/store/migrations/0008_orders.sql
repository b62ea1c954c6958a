-- Orders from the store, the ledger of money in and out, and what each
-- order line is attributed to.

-- Per-workspace order settings: the currency reports are in, and how far
-- back a touch may be to count.
CREATE TABLE order_settings (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    currency TEXT NOT NULL DEFAULT 'USD',
    window_days INTEGER NOT NULL DEFAULT 30
);

-- A store's webhooks: the signing secret (sealed) and the unguessable token
-- in the webhook's address, which names the workspace.
CREATE TABLE store_hooks (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, source)
);

-- Every event as received (normalised: the customer's email is already a
-- salted hash), committed before the sender gets its 2xx, and processed
-- after. event_key dedupes a delivery sent twice; version_key (orders
-- only: the order's ID and version) dedupes the same order sent again in
-- another delivery.
CREATE TABLE order_events (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    event_key TEXT NOT NULL,
    version_key TEXT,
    kind TEXT NOT NULL,
    order_ref TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    processed_at BIGINT,
    due_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    UNIQUE (workspace_id, source, event_key),
    UNIQUE (workspace_id, source, version_key)
);
CREATE INDEX order_events_due ON order_events (due_at) WHERE processed_at IS NULL;
CREATE INDEX order_events_order ON order_events (workspace_id, source, order_ref);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    placed_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    rate TEXT NOT NULL DEFAULT '',
    click_id TEXT NOT NULL DEFAULT '',
    customer TEXT NOT NULL DEFAULT '',
    codes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('placed', 'cancelled')),
    total BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, source, external_id)
);
CREATE INDEX orders_placed ON orders (workspace_id, placed_at);
CREATE INDEX orders_customer ON orders (workspace_id, customer, placed_at);

-- Lines carry their amounts twice: in the order's currency, and converted
-- to the workspace's (amount_rc). kind is deal, halo or none (nothing from
-- Roost touched the order); how says how it was matched (code, click,
-- customer) and offer_id which offer made it a deal.
CREATE TABLE order_lines (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    sku TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    quantity BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    amount_rc BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('deal', 'halo', 'none')),
    how TEXT NOT NULL DEFAULT '',
    offer_id TEXT,
    UNIQUE (order_id, n)
);

-- The ledger, append-only: a sale per line, then refunds and cancellations
-- as negative entries, in the workspace's currency. ref names the source's
-- refund (or "cancel"), so an entry is written once.
CREATE TABLE ledger (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_id TEXT NOT NULL REFERENCES order_lines (id) ON DELETE CASCADE,
    entry TEXT NOT NULL CHECK (entry IN ('sale', 'refund', 'cancel')),
    ref TEXT NOT NULL DEFAULT '',
    amount BIGINT NOT NULL,
    at BIGINT NOT NULL,
    UNIQUE (line_id, entry, ref)
);
CREATE INDEX ledger_order ON ledger (order_id);

-- What Roost did that led to an order, within the window before it: a
-- click (by the click ID the order carried), a claim (by a code it used),
-- or the customer's touches on earlier orders (by email hash). Each names
-- the link, post, account, member and offer it credits. Attribution models
-- weigh these at query time; nothing is re-ingested to switch models.
CREATE TABLE order_touches (
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    touch TEXT NOT NULL,
    how TEXT NOT NULL CHECK (how IN ('code', 'click', 'customer')),
    at BIGINT NOT NULL,
    link_id TEXT NOT NULL DEFAULT '',
    post_id TEXT NOT NULL DEFAULT '',
    account_id TEXT NOT NULL DEFAULT '',
    member_id TEXT NOT NULL DEFAULT '',
    offer_id TEXT NOT NULL DEFAULT '',
    claim_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (order_id, touch)
);
