-- Tracked short links. code is unique across workspaces because the public
-- route /{code} carries no workspace; it is stored lower-case (codes are
-- case-insensitive). A deleted link keeps its row (deleted_at) so its code is
-- never handed to anyone else and its clicks keep their history.
CREATE TABLE links (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    custom BOOLEAN NOT NULL DEFAULT FALSE,
    destination TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    expires_at BIGINT,
    fallback_url TEXT NOT NULL DEFAULT '',
    offer_id TEXT,
    post_id TEXT,
    account_id TEXT,
    utm_source TEXT NOT NULL DEFAULT '',
    utm_campaign TEXT NOT NULL DEFAULT '',
    utm_content TEXT NOT NULL DEFAULT '',
    created_by TEXT REFERENCES members (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX links_code ON links (code);
CREATE INDEX links_workspace ON links (workspace_id, id);
CREATE INDEX links_updated ON links (updated_at);

CREATE TABLE link_tags (
    link_id TEXT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (link_id, tag)
);
CREATE INDEX link_tags_tag ON link_tags (workspace_id, tag, link_id);

-- Per-workspace link settings.
CREATE TABLE link_settings (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    click_param TEXT NOT NULL DEFAULT 'roost_cid',
    allowed_domains TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

-- One row per redirect, written in batches by the click writer. id is the
-- click ID handed to the store. No foreign keys: inserts stay cheap, and a
-- click outlives nothing it points to (links are never hard-deleted).
CREATE TABLE clicks (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    link_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    visitor TEXT NOT NULL,
    referrer_host TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    browser TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT '',
    bot BOOLEAN NOT NULL DEFAULT FALSE,
    bot_reason TEXT NOT NULL DEFAULT '',
    is_unique BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX clicks_link_at ON clicks (link_id, at);
CREATE INDEX clicks_workspace_at ON clicks (workspace_id, at);

-- A visitor's first click on a link each UTC day; the primary key decides
-- uniqueness across every node.
CREATE TABLE click_uniques (
    link_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    visitor TEXT NOT NULL,
    PRIMARY KEY (link_id, day, visitor)
);

-- Hourly counters (hour: start of the hour in microseconds), added to once per batch by each node's click writer, so a
-- viral link never locks one row per click.
CREATE TABLE click_counts (
    link_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    workspace_id TEXT NOT NULL,
    total BIGINT NOT NULL DEFAULT 0,
    human BIGINT NOT NULL DEFAULT 0,
    uniques BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (link_id, hour)
);
CREATE INDEX click_counts_workspace ON click_counts (workspace_id, hour);

-- The salt that makes visitor keys: random, one per UTC day, deleted after
-- two days so yesterday's keys cannot be recomputed from an IP address.
CREATE TABLE visitor_salts (
    day BIGINT PRIMARY KEY,
    salt TEXT NOT NULL
);
