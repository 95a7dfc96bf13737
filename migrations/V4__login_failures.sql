-- Failed logins per phone, for the rate limit shared by every node.
CREATE TABLE login_failures (
    phone text        NOT NULL,
    at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_phone ON login_failures (phone, at);
