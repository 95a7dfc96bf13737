-- Twenty decisions made together as applications/group.rs makes a group: one statement
-- per step for all of them, then the racing losers' claim and why, also for all twenty.
-- (The server's group reads the claim's rows back and sends them as arrays; here the
-- steps are chained in one statement, which pgbench's variables allow.)
SELECT nextval('pick20') AS lo \gset
BEGIN;
WITH free AS (SELECT id FROM applications WHERE id BETWEEN :lo AND :lo + 19 AND status = 'pending' FOR UPDATE SKIP LOCKED),
     a AS (UPDATE applications SET status = 'approved', reason = NULL, decided_at = now(), decided_by = :admin
           WHERE id IN (SELECT id FROM free) AND holds_permission(:admin, union_id, 'members.review') RETURNING *),
     m AS (INSERT INTO memberships (union_id, user_id, status) SELECT union_id, user_id, 'active' FROM a
           RETURNING union_id, user_id, status, joined_at, retired_on, left_at),
     nt AS (INSERT INTO notifications (user_id, kind, title, body, data)
            SELECT user_id, 'application.approved', '入会申请已通过', '您已成为根工会的会员。', '{"application_id": 1,"union_id": 1}'::jsonb FROM a RETURNING *),
     au AS (INSERT INTO audit_log (union_id, actor_id, client, action, subject_type, subject_id, detail)
            SELECT union_id, :admin, 'console', 'application.approve', 'application', id, '{"user_id": 1,"kind": "join","reason": null}' FROM a RETURNING 1),
     ob AS (INSERT INTO outbox (topic, kind, data)
            SELECT e.t, e.k, '{"application": {"id": 123456,"union_id": 2,"user_id": 123456,"kind": "join","from_union_id": null,"status": "approved","applicant": {"name": "测试会员123456","phone_masked": "138****3456"},"note": "在职员工，申请加入本单位工会","reason": null,"created_at": "2026-11-27T03h30m00.123456Z","decided_at": "2026-11-27T03h30m01.123456Z","decided_by": 1}}'::jsonb FROM a, LATERAL (VALUES ('member:' || a.user_id, 'application.approved', 1), ('member:' || a.user_id, 'membership.created', 2),
                 ('member:' || a.user_id, 'notification.created', 3), ('union:' || a.union_id, 'member.joined', 4), ('union:' || a.union_id || chr(58) || 'admin', 'application.approved', 5)) e(t, k, n)
            ORDER BY e.t, a.id, e.n RETURNING 1)
SELECT a.id, a.user_id, u.name, u.phone, (SELECT count(*) FROM m), (SELECT count(*) FROM nt), (SELECT count(*) FROM au), (SELECT count(*) FROM ob)
FROM a JOIN users u ON u.id = a.user_id;
SELECT uid, (WITH visible AS (
            SELECT id FROM notifications WHERE user_id = uid
            UNION ALL
            SELECT n.id FROM memberships m
            JOIN notifications n ON n.union_id = m.union_id AND n.created_at >= m.joined_at
            WHERE m.user_id = uid AND m.status IN ('active', 'retired'))
        SELECT count(*) FROM visible v WHERE NOT EXISTS (
             SELECT 1 FROM notification_reads r WHERE r.user_id = uid AND r.notification_id = v.id))
FROM (SELECT user_id AS uid FROM applications WHERE id BETWEEN :lo AND :lo + 19) u;
COMMIT;
BEGIN;
WITH free AS (SELECT id FROM applications WHERE id BETWEEN :lo AND :lo + 19 AND status = 'pending' FOR UPDATE SKIP LOCKED),
     a AS (UPDATE applications SET status = 'approved', reason = NULL, decided_at = now(), decided_by = :admin
           WHERE id IN (SELECT id FROM free) AND holds_permission(:admin, union_id, 'members.review') RETURNING *)
SELECT a.id FROM a;
SELECT id, holds_permission(:admin, union_id, 'members.review') AS allowed, status FROM applications WHERE id BETWEEN :lo AND :lo + 19;
ROLLBACK;
