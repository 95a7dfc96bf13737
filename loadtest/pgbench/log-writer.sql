-- The log writer's batch (migrations/V30): outbox to log, seqs assigned, notified.
SELECT sequence_outbox(NULL);
