-- Every application pending again and nothing decided, between two runs.
TRUNCATE memberships, notifications, notification_reads, audit_log, outbox, events, topics CASCADE;
UPDATE applications SET status = 'pending', reason = NULL, decided_at = NULL, decided_by = NULL;
SELECT setval('pick', (SELECT min(id) FROM applications), false);
SELECT setval('pick20', (SELECT min(id) FROM applications), false);
VACUUM ANALYZE;
CHECKPOINT;
