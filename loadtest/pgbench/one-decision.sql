-- One decision as the server makes it alone (applications/mod.rs, decide_one): the
-- winner's transaction (claim, membership, inbox message, unread count, audit row, five
-- events into the outbox) and the racing loser's (claim finding nothing, why, rollback).
SELECT nextval('pick') AS id \gset
BEGIN;
WITH free AS (SELECT id FROM applications WHERE id = :id AND status = 'pending' FOR UPDATE SKIP LOCKED),
     a AS (UPDATE applications SET status = 'approved', reason = NULL, decided_at = now(), decided_by = :admin
           WHERE id = (SELECT id FROM free) AND holds_permission(:admin, union_id, 'members.review') RETURNING *)
SELECT a.id, a.union_id, a.user_id, a.kind, a.from_union_id, a.status, u.name, u.phone, a.note, a.reason,
       a.created_at, a.decided_at, a.decided_by, n.name AS union_name
FROM a JOIN users u ON u.id = a.user_id JOIN unions n ON n.id = a.union_id \gset app_
INSERT INTO memberships (union_id, user_id, status) VALUES (:app_union_id, :app_user_id, 'active')
RETURNING union_id, user_id, status, joined_at, retired_on, left_at;
WITH n AS (INSERT INTO notifications (user_id, kind, title, body, data)
           SELECT unnest(ARRAY[:app_user_id::bigint]), 'application.approved', '入会申请已通过', '您已成为根工会的会员。', '{"application_id": 1,"union_id": 1}'::jsonb RETURNING *)
SELECT n.id, n.kind, n.title, n.body, n.data, n.union_id, n.created_at, r.user_id IS NOT NULL AS read, n.user_id
FROM n LEFT JOIN notification_reads r ON false;
SELECT uid, (WITH visible AS (
            SELECT id FROM notifications WHERE user_id = uid
            UNION ALL
            SELECT n.id FROM memberships m
            JOIN notifications n ON n.union_id = m.union_id AND n.created_at >= m.joined_at
            WHERE m.user_id = uid AND m.status IN ('active', 'retired'))
        SELECT count(*) FROM visible v WHERE NOT EXISTS (
             SELECT 1 FROM notification_reads r WHERE r.user_id = uid AND r.notification_id = v.id))
FROM (VALUES (:app_user_id::bigint)) AS one(uid);
INSERT INTO audit_log (union_id, actor_id, client, action, subject_type, subject_id, detail)
VALUES (:app_union_id, :admin, 'console', 'application.approve', 'application', :id, '{"user_id": 1,"kind": "join","reason": null}');
INSERT INTO outbox (topic, kind, data)
SELECT t, k, d FROM (SELECT :app_user_id::bigint AS u, :app_union_id::bigint AS un) p,
 unnest(ARRAY['member:' || p.u, 'member:' || p.u, 'member:' || p.u, 'union:' || p.un, 'union:' || p.un || chr(58) || 'admin']::text[],
        ARRAY['application.approved','membership.created','notification.created','member.joined','application.approved']::text[],
        ARRAY['{"application": {"id": 123456,"union_id": 2,"user_id": 123456,"kind": "join","from_union_id": null,"status": "approved","applicant": {"name": "测试会员123456","phone_masked": "138****3456"},"note": "在职员工，申请加入本单位工会","reason": null,"created_at": "2026-11-27T03h30m00.123456Z","decided_at": "2026-11-27T03h30m01.123456Z","decided_by": 1}}','{"application": {"id": 123456,"union_id": 2,"user_id": 123456,"kind": "join","from_union_id": null,"status": "approved","applicant": {"name": "测试会员123456","phone_masked": "138****3456"},"note": "在职员工，申请加入本单位工会","reason": null,"created_at": "2026-11-27T03h30m00.123456Z","decided_at": "2026-11-27T03h30m01.123456Z","decided_by": 1}}','{"application": {"id": 123456,"union_id": 2,"user_id": 123456,"kind": "join","from_union_id": null,"status": "approved","applicant": {"name": "测试会员123456","phone_masked": "138****3456"},"note": "在职员工，申请加入本单位工会","reason": null,"created_at": "2026-11-27T03h30m00.123456Z","decided_at": "2026-11-27T03h30m01.123456Z","decided_by": 1}}','{"application": {"id": 123456,"union_id": 2,"user_id": 123456,"kind": "join","from_union_id": null,"status": "approved","applicant": {"name": "测试会员123456","phone_masked": "138****3456"},"note": "在职员工，申请加入本单位工会","reason": null,"created_at": "2026-11-27T03h30m00.123456Z","decided_at": "2026-11-27T03h30m01.123456Z","decided_by": 1}}','{"application": {"id": 123456,"union_id": 2,"user_id": 123456,"kind": "join","from_union_id": null,"status": "approved","applicant": {"name": "测试会员123456","phone_masked": "138****3456"},"note": "在职员工，申请加入本单位工会","reason": null,"created_at": "2026-11-27T03h30m00.123456Z","decided_at": "2026-11-27T03h30m01.123456Z","decided_by": 1}}']::jsonb[]) WITH ORDINALITY AS e(t, k, d, n)
ORDER BY n;
COMMIT;
BEGIN;
WITH free AS (SELECT id FROM applications WHERE id = :id AND status = 'pending' FOR UPDATE SKIP LOCKED),
     a AS (UPDATE applications SET status = 'approved', reason = NULL, decided_at = now(), decided_by = :admin
           WHERE id = (SELECT id FROM free) AND holds_permission(:admin, union_id, 'members.review') RETURNING *)
SELECT a.id FROM a JOIN users u ON u.id = a.user_id JOIN unions n ON n.id = a.union_id;
SELECT holds_permission(:admin, union_id, 'members.review') AS allowed, status FROM applications WHERE id = :id;
ROLLBACK;
