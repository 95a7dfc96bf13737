-- Whether a user holds a permission on a union through an admin role on it or on any
-- ancestor: the one definition of a permission check, so a query can join it.
CREATE FUNCTION holds_permission(p_user bigint, p_union bigint, p_permission text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM unions u JOIN union_admins a ON a.union_id = ANY (u.path)
                   WHERE u.id = p_union AND a.user_id = p_user AND p_permission = ANY (a.permissions))
$$;
