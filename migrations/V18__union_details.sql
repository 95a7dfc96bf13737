-- What a union registers with (工会组织登记): its unified social credit code, address,
-- location and contact. The root made by `bootstrap` may lack them, so they are nullable.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER TABLE unions
    ADD COLUMN credit_code   text UNIQUE,
    ADD COLUMN address       text,
    ADD COLUMN lat           double precision,
    ADD COLUMN lng           double precision,
    ADD COLUMN contact_name  text,
    ADD COLUMN contact_phone text,
    ADD CONSTRAINT unions_coordinates CHECK (
        (lat IS NULL) = (lng IS NULL) AND lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180);
-- Nearby unions: a bounding-box search on this index, then exact distances.
CREATE INDEX unions_location ON unions USING gist (point(lng, lat)) WHERE lat IS NOT NULL;
-- Everything below a union: `path @> ARRAY[id]`.
CREATE INDEX unions_subtree ON unions USING gin (path);
CREATE INDEX unions_name ON unions USING gin (name gin_trgm_ops);
