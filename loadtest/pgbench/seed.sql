-- 200,000 verified users, each with a pending application to join the root union, and
-- the sequences the decision scripts take application ids from. Run on a database that
-- `gonghui migrate` and `gonghui bootstrap` prepared (pgbench-decisions.sh does).
INSERT INTO users (phone, name, verified_at)
SELECT '137' || lpad(g::text, 8, '0'), '测试会员' || g, now() FROM generate_series(1, 200000) g;
INSERT INTO applications (union_id, user_id, kind, note)
SELECT (SELECT id FROM unions WHERE parent_id IS NULL), id, 'join', '在职员工，申请加入本单位工会'
FROM users WHERE phone LIKE '137%' ORDER BY 2;
CREATE SEQUENCE pick;
CREATE SEQUENCE pick20 INCREMENT 20;
