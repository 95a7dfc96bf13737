-- Changes to the union tree that the parent union reviews: a registration, a
-- modification, a new committee term (换届) or an in-term replacement (届内换人).
-- `payload` is what was asked for; `union_id` is null for a registration until approved.
CREATE TABLE org_requests (
    id                bigserial PRIMARY KEY,
    kind              text        NOT NULL CHECK (kind IN ('register', 'modify', 'committee', 'replace')),
    union_id          bigint REFERENCES unions (id),
    reviewer_union_id bigint      NOT NULL REFERENCES unions (id),
    submitted_by      bigint      NOT NULL REFERENCES users (id),
    payload           jsonb       NOT NULL,
    status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    reason            text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    decided_at        timestamptz,
    decided_by        bigint REFERENCES users (id),
    CHECK ((kind = 'register') OR union_id IS NOT NULL)
);
CREATE INDEX org_requests_pending ON org_requests (reviewer_union_id, id) WHERE status = 'pending';
CREATE INDEX org_requests_union ON org_requests (union_id, id);
CREATE INDEX org_requests_submitter ON org_requests (submitted_by, id);
CREATE UNIQUE INDEX org_requests_one_pending ON org_requests (union_id, kind) WHERE status = 'pending';
CREATE UNIQUE INDEX org_requests_one_code ON org_requests ((payload ->> 'credit_code'))
    WHERE status = 'pending' AND kind = 'register';

-- Committee terms: every approved term or replacement is a row; the current committee is
-- the newest, and the rows before it are the history.
CREATE TABLE committee_terms (
    id          bigserial PRIMARY KEY,
    union_id    bigint      NOT NULL REFERENCES unions (id),
    starts_on   date        NOT NULL,
    ends_on     date        NOT NULL,
    members     jsonb       NOT NULL,
    request_id  bigint      NOT NULL REFERENCES org_requests (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_on > starts_on)
);
CREATE INDEX committee_terms_union ON committee_terms (union_id, id);
