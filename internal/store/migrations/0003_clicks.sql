-- Clicks and the rollups read back from them, filled in batches by the
-- click writer. SQLite has its own copy of this file (0003_clicks.sqlite.sql)
-- that makes them WITHOUT ROWID tables: one B-tree per table instead of two,
-- which halves the work of every insert.

-- One row per redirect. id is the click ID handed to the store, which
-- orders look up; reports read the rollups below, so clicks need no other
-- index. No foreign keys: inserts stay cheap, and a click outlives nothing
-- it points to (links are never hard-deleted).
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

-- A visitor's first click on a link each UTC day; the primary key decides
-- uniqueness across every node.
CREATE TABLE click_uniques (
    link_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    visitor TEXT NOT NULL,
    PRIMARY KEY (link_id, day, visitor)
);

-- Hourly counters (hour: start of the hour in microseconds), added to once
-- per batch by each node's writer, so a viral link never locks one row per
-- click.
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

-- Daily clicks by referrer, device, country and bot reason (dim), kept
-- the same way: the breakdowns of a report never scan raw clicks.
CREATE TABLE click_dims (
    link_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    clicks BIGINT NOT NULL DEFAULT 0,
    human BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (link_id, day, dim, value)
);
CREATE INDEX click_dims_workspace ON click_dims (workspace_id, day);
