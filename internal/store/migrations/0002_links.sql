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

-- The salt that makes visitor keys: random, one per UTC day, deleted after
-- two days so yesterday's keys cannot be recomputed from an IP address.
CREATE TABLE visitor_salts (
    day BIGINT PRIMARY KEY,
    salt TEXT NOT NULL
);
