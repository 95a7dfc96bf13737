-- Admins of a union, with the permissions they hold there and on every union below.
CREATE TABLE union_admins (
    union_id    bigint      NOT NULL REFERENCES unions (id),
    user_id     bigint      NOT NULL REFERENCES users (id),
    permissions text[]      NOT NULL,
    granted_by  bigint REFERENCES users (id),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (union_id, user_id)
);
CREATE INDEX union_admins_user ON union_admins (user_id);
