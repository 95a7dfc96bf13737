-- A prize's address as WeChat's address authorisation (wx.chooseAddress) gives it, one
-- field each, and the carrier it ships with.
ALTER TABLE prize_claims
    ADD COLUMN province      text,
    ADD COLUMN city          text,
    ADD COLUMN county        text,
    ADD COLUMN detail        text,
    ADD COLUMN postal_code   text,
    ADD COLUMN national_code text,
    ADD COLUMN carrier       text;
UPDATE prize_claims SET province = '', city = '', county = '', detail = address;
ALTER TABLE prize_claims
    DROP COLUMN address,
    ALTER COLUMN province SET NOT NULL,
    ALTER COLUMN city SET NOT NULL,
    ALTER COLUMN county SET NOT NULL,
    ALTER COLUMN detail SET NOT NULL;
