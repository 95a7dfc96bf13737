-- What admins did: who, when, from which client, to what.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    union_id     bigint REFERENCES unions (id),
    actor_id     bigint REFERENCES users (id),
    client       text,
    action       text        NOT NULL,
    subject_type text        NOT NULL,
    subject_id   bigint      NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_union ON audit_log (union_id, id);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id);
