-- Each activity's mini-program code (葵花码), made by WeChat once for the whole cluster
-- and kept, by scene and the page it opens.
CREATE TABLE miniprogram_codes (
    scene   text        NOT NULL,
    page    text        NOT NULL,
    png     bytea       NOT NULL,
    made_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scene, page)
);
