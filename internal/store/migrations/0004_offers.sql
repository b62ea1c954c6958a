-- Offers: deals with a cap, an audience and a way of handing out codes.
-- slug is unique across workspaces: the public claim page is /o/{slug}.
-- claimed counts the units taken; the claim transaction raises it only
-- while it is below cap, which is what makes overselling impossible.
CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    image_url TEXT NOT NULL DEFAULT '',
    landing_url TEXT NOT NULL,
    currency TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    cap BIGINT NOT NULL CHECK (cap > 0),
    per_person INTEGER NOT NULL DEFAULT 1 CHECK (per_person > 0),
    audience TEXT NOT NULL CHECK (audience IN ('public', 'link', 'followers')),
    accounts TEXT NOT NULL DEFAULT '',
    code_mode TEXT NOT NULL CHECK (code_mode IN ('shared', 'unique', 'pool')),
    shared_code TEXT NOT NULL DEFAULT '',
    code_prefix TEXT NOT NULL DEFAULT '',
    code_length INTEGER NOT NULL DEFAULT 8,
    claim_ttl_hours INTEGER NOT NULL DEFAULT 0,
    published BOOLEAN NOT NULL DEFAULT FALSE,
    claimed BIGINT NOT NULL DEFAULT 0 CHECK (claimed >= 0),
    created_by TEXT REFERENCES members (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX offers_workspace ON offers (workspace_id, id);

CREATE TABLE offer_products (
    offer_id TEXT NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    regular_price BIGINT NOT NULL CHECK (regular_price >= 0),
    deal_price BIGINT NOT NULL CHECK (deal_price >= 0),
    PRIMARY KEY (offer_id, position)
);

-- A unit of an offer taken by one person (network + stable account ID).
-- slot numbers a person's claims 1..per_person: the unique key is the
-- per-person limit (an expired claim gives its slot back: NULL never
-- collides). request_key makes a retried request return its claim.
CREATE TABLE claims (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    offer_id TEXT NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    network TEXT NOT NULL,
    account_id TEXT NOT NULL,
    handle TEXT NOT NULL DEFAULT '',
    slot INTEGER,
    request_key TEXT NOT NULL,
    code TEXT NOT NULL,
    click_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('active', 'redeemed', 'released', 'expired')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    redeemed_at BIGINT,
    order_ref TEXT NOT NULL DEFAULT '',
    UNIQUE (offer_id, network, account_id, slot),
    UNIQUE (offer_id, request_key)
);
CREATE INDEX claims_workspace ON claims (workspace_id, id);
CREATE INDEX claims_offer ON claims (offer_id, id);
CREATE INDEX claims_code ON claims (workspace_id, code);
CREATE INDEX claims_expiry ON claims (expires_at) WHERE status = 'active';

-- Codes that are not shared: generated per claim (unique mode) or imported
-- from the store (pool mode; claim_id is empty until handed out). The
-- primary key makes a code unique in its workspace, case-insensitively
-- (codes are stored upper-case).
CREATE TABLE offer_codes (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    offer_id TEXT NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    claim_id TEXT,
    PRIMARY KEY (workspace_id, code)
);
CREATE INDEX offer_codes_free ON offer_codes (offer_id, claim_id);
