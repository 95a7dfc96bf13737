-- Appends a transaction's events in one round trip, in the order given (the caller sorts
-- them by topic so that concurrent writers lock topic heads in one order).
CREATE FUNCTION append_events(p_topics text[], p_kinds text[], p_data jsonb[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_topics, 1), 0) LOOP
        PERFORM append_event(p_topics[i], p_kinds[i], p_data[i]);
    END LOOP;
END
$$;
