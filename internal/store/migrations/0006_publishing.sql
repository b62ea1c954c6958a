-- Brand accounts connected to real networks, and posts published to them.

-- What a connected account needs: where it lives (a Mastodon instance, a
-- Bluesky PDS), its credentials (sealed with the instance key, never in
-- the clear), its health as the last calls saw it, the network's length
-- limit, and its follower count. A disconnected account keeps its row, so
-- the posts, links and claims that name it keep their history; its
-- credentials are wiped.
ALTER TABLE accounts ADD COLUMN instance TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN credentials TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN credentials_expire_at BIGINT;
ALTER TABLE accounts ADD COLUMN health TEXT NOT NULL DEFAULT 'ok';
ALTER TABLE accounts ADD COLUMN health_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN last_ok_at BIGINT;
ALTER TABLE accounts ADD COLUMN rate_limited_until BIGINT;
ALTER TABLE accounts ADD COLUMN char_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN followers BIGINT;
ALTER TABLE accounts ADD COLUMN followers_sampled_at BIGINT;
ALTER TABLE accounts ADD COLUMN connected_by TEXT;
ALTER TABLE accounts ADD COLUMN disconnected_at BIGINT;

-- Follower counts over time, for growth charts.
CREATE TABLE account_followers (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    followers BIGINT NOT NULL,
    PRIMARY KEY (account_id, at)
);

-- Sign-in flows in progress (an admin connecting a brand account, or a
-- shopper proving who they are). state is stored hashed; the PKCE
-- verifier sealed. A flow is used once.
CREATE TABLE oauth_flows (
    state TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL DEFAULT '',
    network TEXT NOT NULL,
    instance TEXT NOT NULL DEFAULT '',
    verifier TEXT NOT NULL,
    return_to TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL
);

-- Roost's app on each Mastodon instance (registered once per instance and
-- callback address); the client secret is sealed.
CREATE TABLE network_apps (
    network TEXT NOT NULL,
    instance TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (network, instance, redirect_uri)
);

-- A post is written once; each account it goes to gets a copy with its
-- own tracked link and final text. A copy is leased by one worker at a
-- time (lease_until), and the lease token fences a worker whose lease ran
-- out: only the holder of the current lease may record the outcome.
-- uncertain marks a copy whose last attempt may have reached the network:
-- the next attempt looks for it before publishing again.
CREATE TABLE posts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id TEXT REFERENCES members (id) ON DELETE SET NULL,
    offer_id TEXT REFERENCES offers (id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    destination TEXT NOT NULL DEFAULT '',
    scheduled_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX posts_workspace ON posts (workspace_id, id);

CREATE TABLE post_copies (
    id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    link_id TEXT,
    text TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'publishing', 'published', 'failed', 'cancelled')),
    due_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until BIGINT,
    lease TEXT NOT NULL DEFAULT '',
    uncertain BOOLEAN NOT NULL DEFAULT FALSE,
    remote_id TEXT NOT NULL DEFAULT '',
    remote_url TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    published_at BIGINT,
    updated_at BIGINT NOT NULL,
    UNIQUE (post_id, account_id)
);
CREATE INDEX post_copies_due ON post_copies (status, due_at);
CREATE INDEX post_copies_account ON post_copies (account_id, due_at);

-- The sandbox network's timeline: what brand accounts posted there, and
-- the mentions and replies people sent them. key makes a retried post
-- land once.
CREATE TABLE sandbox_posts (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    reply_to TEXT NOT NULL DEFAULT '',
    key TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, key)
);
