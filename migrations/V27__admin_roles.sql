-- "An admin on the path": the admin roles a user holds on a union or on any of its
-- ancestors. The one definition every check in SQL goes through (a permission held, any
-- role at all, the permissions held); the node's rights cache (actors/src/store/rights.rs,
-- `allows`) is its mirror in memory.
CREATE FUNCTION admin_roles(p_user bigint, p_union bigint) RETURNS SETOF union_admins
LANGUAGE sql STABLE AS $$
    SELECT a.* FROM unions u JOIN union_admins a ON a.union_id = ANY (u.path)
    WHERE u.id = p_union AND a.user_id = p_user
$$;

CREATE OR REPLACE FUNCTION holds_permission(p_user bigint, p_union bigint, p_permission text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM admin_roles(p_user, p_union) a WHERE p_permission = ANY (a.permissions))
$$;
