-- Events leave the writing transaction through an outbox: a writer inserts its events
-- here (no topic row locked, nothing notified) and commits; a node's log writer then
-- moves them, in id order and in batches, into the log — assigning each topic's next
-- seq and notifying every node — in one transaction per batch. Writers of one busy topic
-- no longer queue on its head row, and one commit (one WAL flush, one notify lock)
-- serves hundreds of events.
CREATE TABLE outbox (
    id    bigserial   PRIMARY KEY,
    topic text        NOT NULL,
    kind  text        NOT NULL,
    data  jsonb       NOT NULL,
    at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX outbox_topic ON outbox (topic);

-- Moves up to p_limit outbox events (every one visible, when null) into the log, oldest
-- first, and announces each on `gonghui_events` (by topic and seq only when the whole
-- event would not fit in a notification). Batches are serialised by an advisory lock, so
-- each topic's seqs are gapless and follow the order its events were moved in. Returns
-- how many it moved.
CREATE FUNCTION sequence_outbox(p_limit int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    r         record;
    v_seq     bigint;
    v_payload text;
    v_moved   int := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7291001);
    FOR r IN
        WITH d AS (DELETE FROM outbox
                   WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT p_limit)
                   RETURNING *)
        SELECT * FROM d ORDER BY id
    LOOP
        INSERT INTO topics (topic, head) VALUES (r.topic, 1)
            ON CONFLICT (topic) DO UPDATE SET head = topics.head + 1
            RETURNING head INTO v_seq;
        INSERT INTO events (topic, seq, kind, data, at) VALUES (r.topic, v_seq, r.kind, r.data, r.at);
        v_payload := json_build_object('topic', r.topic, 'seq', v_seq, 'kind', r.kind,
                                       'at', r.at, 'data', r.data)::text;
        IF octet_length(v_payload) > 7900 THEN
            v_payload := json_build_object('topic', r.topic, 'seq', v_seq)::text;
        END IF;
        PERFORM pg_notify('gonghui_events', v_payload);
        v_moved := v_moved + 1;
    END LOOP;
    RETURN v_moved;
END
$$;
