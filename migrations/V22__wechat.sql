-- Official accounts bound to unions: the adapter pulls their published articles on a
-- schedule. The secret is encrypted like ID numbers. `next_poll_at` is claimed with
-- SKIP LOCKED, so of several nodes one polls each account at a time.
CREATE TABLE wechat_accounts (
    union_id      bigint      PRIMARY KEY REFERENCES unions (id),
    app_id        text        NOT NULL,
    secret_enc    bytea       NOT NULL,
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'broken')),
    broken_reason text,
    failures      integer     NOT NULL DEFAULT 0,
    next_poll_at  timestamptz NOT NULL DEFAULT now(),
    last_polled_at timestamptz,
    bound_by      bigint REFERENCES users (id),
    bound_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wechat_accounts_due ON wechat_accounts (next_poll_at) WHERE status = 'active';

-- Mini-program users: the openid WeChat gives for this app, linked once to a user.
ALTER TABLE users ADD COLUMN wechat_openid text UNIQUE;
