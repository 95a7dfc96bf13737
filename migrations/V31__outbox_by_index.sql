-- The outbox is a queue: rows live for milliseconds, so its statistics always say it is
-- empty, and a plan made then (PL/pgSQL keeps it for the connection's life) scans the
-- whole heap — every dead row since the last vacuum — on every batch. Measured on the
-- approvals backlog (pg_stat_statements): after 24,000 events the outbox held 1,700
-- pages of dead rows and a batch took 3.4 ms; read by its primary key, 1.4 ms. The log
-- writer reads it by that key only, and autovacuum visits it once a few thousand rows
-- have died.
ALTER FUNCTION sequence_outbox(int) SET enable_seqscan = off;
ALTER TABLE outbox SET (autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_scale_factor = 0,
                        autovacuum_analyze_threshold = 2000, autovacuum_analyze_scale_factor = 0);
