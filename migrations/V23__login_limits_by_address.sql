-- Login failures and SMS sends are limited by client address as well as by phone, so a
-- stranger cannot lock a person out and one address cannot send codes without end.
ALTER TABLE login_failures ADD COLUMN addr inet NOT NULL DEFAULT '0.0.0.0';
ALTER TABLE login_failures ALTER COLUMN addr DROP DEFAULT;
CREATE INDEX login_failures_addr ON login_failures (addr, at);
ALTER TABLE sms_codes ADD COLUMN addr inet NOT NULL DEFAULT '0.0.0.0';
ALTER TABLE sms_codes ALTER COLUMN addr DROP DEFAULT;
CREATE INDEX sms_codes_addr ON sms_codes (addr, created_at);
CREATE INDEX sms_codes_created ON sms_codes (created_at);
