-- One process at a time follows an account's stream (where the network
-- has one): it holds stream_lease until stream_until and renews it. While
-- a stream is live the account is polled rarely: the stream says when.
ALTER TABLE account_pollers ADD COLUMN stream_lease TEXT NOT NULL DEFAULT '';
ALTER TABLE account_pollers ADD COLUMN stream_until BIGINT;
