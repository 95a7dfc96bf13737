-- Applications to a union, decided once by an admin with a conditional update.
CREATE TABLE applications (
    id         bigserial PRIMARY KEY,
    union_id   bigint      NOT NULL REFERENCES unions (id),
    user_id    bigint      NOT NULL REFERENCES users (id),
    kind       text        NOT NULL CHECK (kind IN ('join')),
    status     text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    note       text,
    reason     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    decided_by bigint REFERENCES users (id)
);
CREATE UNIQUE INDEX applications_one_pending ON applications (union_id, user_id, kind) WHERE status = 'pending';
CREATE INDEX applications_pending ON applications (union_id, id) WHERE status = 'pending';
CREATE INDEX applications_user ON applications (user_id, id);
