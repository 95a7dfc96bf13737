-- The union tree. `path` holds the ids from the root down to the union itself, so
-- "is X an ancestor of Y" is `X = ANY(Y.path)` with no recursion.
CREATE TABLE unions (
    id         bigserial PRIMARY KEY,
    parent_id  bigint REFERENCES unions (id),
    name       text        NOT NULL,
    path       bigint[]    NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (path[array_length(path, 1)] = id)
);
CREATE INDEX unions_parent ON unions (parent_id);
CREATE UNIQUE INDEX unions_one_root ON unions ((parent_id IS NULL)) WHERE parent_id IS NULL;
