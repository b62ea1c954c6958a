-- Brand accounts on social networks. This first version holds what offers
-- need (which accounts' followers may claim); credentials, health and
-- follower counts arrive with the social-accounts work.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    network TEXT NOT NULL,
    handle TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, network, remote_id)
);
CREATE INDEX accounts_workspace ON accounts (workspace_id, id);

-- The built-in sandbox network, for demos and tests: people are handles,
-- and who follows which brand account is a list the team edits.
CREATE TABLE sandbox_follows (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    follower TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, follower)
);
