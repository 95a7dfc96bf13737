-- Memberships; a person belongs to at most one union at a time.
CREATE TABLE memberships (
    id        bigserial PRIMARY KEY,
    union_id  bigint      NOT NULL REFERENCES unions (id),
    user_id   bigint      NOT NULL REFERENCES users (id),
    status    text        NOT NULL CHECK (status IN ('active', 'left')),
    joined_at timestamptz NOT NULL DEFAULT now(),
    left_at   timestamptz
);
CREATE UNIQUE INDEX memberships_one_active ON memberships (user_id) WHERE status = 'active';
CREATE INDEX memberships_union_active ON memberships (union_id) WHERE status = 'active';
