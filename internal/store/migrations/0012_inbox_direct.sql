-- Direct messages, VIPs by followers, and a conversation list read in a
-- fixed number of queries.

-- Where a network keeps direct messages apart from posts (Bluesky's chat,
-- X's direct messages), the poller reads them from their own cursor, saved
-- in the same transaction as the messages, like the mentions cursor.
-- dm_due_at holds them back after a rate limit or a refusal; dm_error says
-- why they are not being read (shown on the account and the inbox).
ALTER TABLE account_pollers ADD COLUMN dm_cursor TEXT NOT NULL DEFAULT '';
ALTER TABLE account_pollers ADD COLUMN dm_due_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE account_pollers ADD COLUMN dm_error TEXT NOT NULL DEFAULT '';
ALTER TABLE account_pollers ADD COLUMN dm_polled_at BIGINT;

-- A conversation is direct when its latest message from the person was a
-- direct message: the reply goes back the same way. last_in_at is when
-- Roost stored the person's latest message (unread state compares it with
-- each member's read_at).
ALTER TABLE conversations ADD COLUMN direct BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE conversations ADD COLUMN last_in_at BIGINT NOT NULL DEFAULT 0;
UPDATE conversations SET last_in_at = COALESCE((SELECT MAX(m.created_at) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.direction = 'in'), 0);
UPDATE conversations SET direct = COALESCE((SELECT m.direct FROM messages m
    WHERE m.conversation_id = conversations.id AND m.direction = 'in' ORDER BY m.at DESC, m.id DESC LIMIT 1), FALSE);

-- The person's follower count as the network last gave it with one of
-- their messages (NULL: never given), for the VIP threshold.
ALTER TABLE customer_identities ADD COLUMN followers BIGINT;
ALTER TABLE customer_identities ADD COLUMN followers_at BIGINT;
ALTER TABLE inbox_settings ADD COLUMN vip_followers BIGINT NOT NULL DEFAULT 0;

CREATE INDEX conversations_list ON conversations (workspace_id, last_message_at);
CREATE INDEX conversation_tags_tag ON conversation_tags (tag, conversation_id);
CREATE INDEX customer_identities_followers ON customer_identities (workspace_id, followers);
CREATE INDEX conversations_person ON conversations (workspace_id, network, person_id);
