-- The event log. `topics.head` is each topic's last seq; bumping it takes the row lock
-- that orders writers of one topic, so seqs are gapless and commit in seq order.
CREATE TABLE topics (
    topic text   PRIMARY KEY,
    head  bigint NOT NULL
);

CREATE TABLE events (
    topic text        NOT NULL,
    seq   bigint      NOT NULL,
    kind  text        NOT NULL,
    data  jsonb       NOT NULL,
    at    timestamptz NOT NULL,
    PRIMARY KEY (topic, seq)
);
CREATE INDEX events_at ON events (at);

-- Appends one event and announces it to every node. A payload too big for NOTIFY
-- (8000 bytes) is announced by topic and seq only; listeners read it from the log.
CREATE FUNCTION append_event(p_topic text, p_kind text, p_data jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_seq     bigint;
    v_at      timestamptz := clock_timestamp();
    v_payload text;
BEGIN
    INSERT INTO topics (topic, head) VALUES (p_topic, 1)
        ON CONFLICT (topic) DO UPDATE SET head = topics.head + 1
        RETURNING head INTO v_seq;
    INSERT INTO events (topic, seq, kind, data, at) VALUES (p_topic, v_seq, p_kind, p_data, v_at);
    v_payload := json_build_object('topic', p_topic, 'seq', v_seq, 'kind', p_kind,
                                   'at', v_at, 'data', p_data)::text;
    IF octet_length(v_payload) > 7900 THEN
        v_payload := json_build_object('topic', p_topic, 'seq', v_seq)::text;
    END IF;
    PERFORM pg_notify('gonghui_events', v_payload);
    RETURN v_seq;
END
$$;
