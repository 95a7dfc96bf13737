-- Real-name verifications that ended in "this ID number belongs to another account",
-- counted per user and per client address so that answer cannot be asked without end
-- (whether a person is registered is not anyone's to test).
CREATE TABLE verification_attempts (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    addr inet NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verification_attempts_user ON verification_attempts (user_id, at);
CREATE INDEX verification_attempts_addr ON verification_attempts (addr, at);
