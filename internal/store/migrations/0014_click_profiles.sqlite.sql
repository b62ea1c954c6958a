-- Clicks split in two, so each redirect writes a narrow row. A click's
-- link, workspace, referrer host, device, OS, browser, country and bot
-- reason are shared by most of the clicks of a batch (a viral link's
-- clicks come in a handful of such profiles): they are stored once in
-- click_profiles, and click_log keeps per click only its ID, time,
-- visitor, unique flag and profile. That halves the bytes a click costs
-- and the writer's work per click. The view clicks keeps the shape the
-- table had, for every query that reads clicks.
-- SQLite: 0014_click_profiles.sql with an INTEGER PRIMARY KEY for profiles
-- and click_log WITHOUT ROWID. Keep the two files the same but for that.

CREATE TABLE click_profiles (
    id INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    link_id TEXT NOT NULL,
    referrer_host TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    browser TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT '',
    bot BOOLEAN NOT NULL DEFAULT FALSE,
    bot_reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX click_profiles_key ON click_profiles (link_id, referrer_host, device, os, browser, country, bot, bot_reason);

INSERT INTO click_profiles (workspace_id, link_id, referrer_host, device, os, browser, country, bot, bot_reason)
SELECT DISTINCT workspace_id, link_id, referrer_host, device, os, browser, country, bot, bot_reason FROM clicks
ORDER BY link_id, referrer_host, device, os, browser, country, bot, bot_reason;

-- One row per redirect; id is the click ID handed to the store. No
-- foreign key: inserts stay cheap, and profiles are never deleted.
CREATE TABLE click_log (
    id TEXT PRIMARY KEY,
    profile_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    visitor TEXT NOT NULL,
    is_unique BOOLEAN NOT NULL DEFAULT FALSE
) WITHOUT ROWID;

INSERT INTO click_log (id, profile_id, at, visitor, is_unique)
SELECT c.id, p.id, c.at, c.visitor, c.is_unique FROM clicks c JOIN click_profiles p
    ON p.link_id = c.link_id AND p.referrer_host = c.referrer_host AND p.device = c.device AND p.os = c.os
    AND p.browser = c.browser AND p.country = c.country AND p.bot = c.bot AND p.bot_reason = c.bot_reason;

DROP TABLE clicks;

CREATE VIEW clicks AS
SELECT c.id, p.workspace_id, p.link_id, c.at, c.visitor, p.referrer_host, p.device, p.os, p.browser, p.country, p.bot, p.bot_reason, c.is_unique, c.profile_id
FROM click_log c JOIN click_profiles p ON p.id = c.profile_id;
