-- Memberships can be retired (still current: the person stays a member, listed apart)
-- and keep their roster details and why they ended. "One current membership per person"
-- now covers active and retired ones.
ALTER TABLE memberships DROP CONSTRAINT memberships_status_check;
ALTER TABLE memberships ADD CONSTRAINT memberships_status_check
    CHECK (status IN ('active', 'retired', 'left'));
ALTER TABLE memberships
    ADD COLUMN employer     text,
    ADD COLUMN job          text,
    ADD COLUMN retired_on   date,
    ADD COLUMN retired_note text,
    ADD COLUMN left_reason  text;
DROP INDEX memberships_one_active;
CREATE UNIQUE INDEX memberships_one_current ON memberships (user_id) WHERE status IN ('active', 'retired');
DROP INDEX memberships_union_active;
CREATE INDEX memberships_roster ON memberships (union_id, status, id);
