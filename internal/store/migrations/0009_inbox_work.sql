-- Working the inbox: assignments, tags, notes, read state, replies sent
-- from Roost (with optional approval), saved replies, routing rules, and
-- customers who may have several network identities.

ALTER TABLE conversations ADD COLUMN first_response_at BIGINT;
ALTER TABLE conversations ADD COLUMN closed_at BIGINT;

-- Outbound messages: drafted, waiting for approval, being sent, sent, or
-- failed with the network's reason (kept, never lost). Inbound ones are
-- "received".
ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'received';
ALTER TABLE messages ADD COLUMN error TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN approved_by TEXT;

CREATE TABLE conversation_tags (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (conversation_id, tag)
);

-- Internal notes: never sent anywhere.
CREATE TABLE conversation_notes (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    member_id TEXT REFERENCES members (id) ON DELETE SET NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX conversation_notes_conv ON conversation_notes (conversation_id, created_at);

-- What each member has read: a conversation is unread for them when a
-- message came after read_at.
CREATE TABLE conversation_reads (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    read_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, member_id)
);

CREATE TABLE reply_templates (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

-- Routing: a message containing any of the words gets the tag and/or the
-- assignee.
CREATE TABLE inbox_rules (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    words TEXT NOT NULL,
    tag TEXT NOT NULL DEFAULT '',
    assignee_id TEXT REFERENCES members (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE inbox_settings (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    require_approval BOOLEAN NOT NULL DEFAULT FALSE,
    vip_revenue BIGINT NOT NULL DEFAULT 0
);

-- A customer is a person the brand knows, under one or more network
-- identities (an admin links them).
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE TABLE customer_identities (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    network TEXT NOT NULL,
    person_id TEXT NOT NULL,
    handle TEXT NOT NULL DEFAULT '',
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, network, person_id)
);
CREATE INDEX customer_identities_customer ON customer_identities (customer_id);
CREATE INDEX claims_person ON claims (workspace_id, network, account_id);
