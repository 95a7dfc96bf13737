-- One-time SMS codes, stored as a keyed hash; void after expiry, use, or too many wrong tries.
CREATE TABLE sms_codes (
    id              bigserial PRIMARY KEY,
    phone           text        NOT NULL,
    purpose         text        NOT NULL,
    code_hash       bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    failed_attempts int         NOT NULL DEFAULT 0,
    used_at         timestamptz
);
CREATE INDEX sms_codes_phone ON sms_codes (phone, created_at DESC);
