-- People: a phone number to log in with, an optional password, and the real-name
-- verification (the ID number only encrypted, with a blind index for uniqueness).
CREATE TABLE users (
    id               bigserial PRIMARY KEY,
    phone            text        NOT NULL UNIQUE,
    password_hash    text,
    name             text,
    id_number_enc    bytea,
    id_number_index  bytea UNIQUE,
    id_number_masked text,
    verified_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
