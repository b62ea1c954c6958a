-- The inbox: what people send brand accounts, gathered by one poller per
-- account, and the claim tokens those messages can carry.

-- Each account's mention poller. cursor is the network's own ("" until
-- the first poll, which starts from now). One process polls an account at
-- a time: it holds the lease, and only the lease's holder may store what
-- it read and move the cursor, in one transaction.
CREATE TABLE account_pollers (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    cursor TEXT NOT NULL DEFAULT '',
    due_at BIGINT NOT NULL,
    lease TEXT NOT NULL DEFAULT '',
    lease_until BIGINT,
    polled_at BIGINT,
    failures INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX account_pollers_due ON account_pollers (due_at);

-- A conversation is one person's exchange with one brand account in one
-- remote thread (a brand post and its replies, or a fresh mention).
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    network TEXT NOT NULL,
    person_id TEXT NOT NULL,
    person_handle TEXT NOT NULL DEFAULT '',
    thread TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'closed')),
    assignee_id TEXT REFERENCES members (id) ON DELETE SET NULL,
    last_message_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account_id, network, person_id, thread)
);
CREATE INDEX conversations_workspace ON conversations (workspace_id, status, last_message_at);

-- Messages in and out. An inbound message is unique per account and
-- remote ID, so a poll that reads it twice stores it once.
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    remote_id TEXT,
    reply_to TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    author_id TEXT NOT NULL DEFAULT '',
    author_handle TEXT NOT NULL DEFAULT '',
    member_id TEXT REFERENCES members (id) ON DELETE SET NULL,
    text TEXT NOT NULL,
    direct BOOLEAN NOT NULL DEFAULT FALSE,
    at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, remote_id)
);
CREATE INDEX messages_conversation ON messages (conversation_id, at);

-- Claim tokens: the fallback proof of who someone is. A shopper's browser
-- asks for a token on a followers offer's page; the person mentions a
-- brand account with it; when the poller stores that mention, the token
-- is marked with its author in the same transaction, and a verifier then
-- checks that the author follows the account and makes the claim. The
-- browser that asked (visitor, hashed) is the only one shown the result,
-- and is signed in as the author once (signed_in_at), so "Not you?" sticks.
CREATE TABLE claim_tokens (
    token TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    offer_id TEXT NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    visitor TEXT NOT NULL,
    click_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('waiting', 'mentioned', 'claimed', 'refused')),
    account_id TEXT,
    message_id TEXT,
    network TEXT NOT NULL DEFAULT '',
    person_id TEXT NOT NULL DEFAULT '',
    person_handle TEXT NOT NULL DEFAULT '',
    claim_id TEXT,
    reason TEXT NOT NULL DEFAULT '',
    signed_in_at BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX claim_tokens_visitor ON claim_tokens (offer_id, visitor, created_at);
CREATE INDEX claim_tokens_mentioned ON claim_tokens (status, updated_at);
