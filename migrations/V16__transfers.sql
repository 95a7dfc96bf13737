-- Transfer applications (会籍转移): to `union_id` from `from_union_id`; a person has at
-- most one pending transfer, and the union left behind sees it in its queue read-only.
ALTER TABLE applications DROP CONSTRAINT applications_kind_check;
ALTER TABLE applications ADD CONSTRAINT applications_kind_check CHECK (kind IN ('join', 'transfer'));
ALTER TABLE applications ADD COLUMN from_union_id bigint REFERENCES unions (id);
ALTER TABLE applications ADD CONSTRAINT applications_transfer_origin
    CHECK ((kind = 'transfer') = (from_union_id IS NOT NULL));
CREATE UNIQUE INDEX applications_one_pending_transfer ON applications (user_id)
    WHERE kind = 'transfer' AND status = 'pending';
CREATE INDEX applications_pending_out ON applications (from_union_id, id)
    WHERE status = 'pending' AND from_union_id IS NOT NULL;
