-- The member inbox. A notification is to one user or, as an announcement, to a whole
-- union (one row, however many members: each member's inbox is the union's
-- announcements since they joined). Reads are per user and per notification.
CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    user_id    bigint REFERENCES users (id),
    union_id   bigint REFERENCES unions (id),
    kind       text        NOT NULL,
    title      text        NOT NULL,
    body       text        NOT NULL,
    data       jsonb       NOT NULL DEFAULT '{}',
    created_by bigint REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((user_id IS NULL) <> (union_id IS NULL))
);
CREATE INDEX notifications_user ON notifications (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX notifications_union ON notifications (union_id, created_at) WHERE union_id IS NOT NULL;

CREATE TABLE notification_reads (
    user_id         bigint      NOT NULL REFERENCES users (id),
    notification_id bigint      NOT NULL REFERENCES notifications (id),
    read_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, notification_id)
);
