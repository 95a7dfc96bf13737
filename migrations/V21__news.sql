-- News (资讯): authored in the console, or imported from WeChat official-account
-- articles. A union publishes to itself or to its whole subtree; a union's feed is its
-- own news plus what its ancestors published to their subtrees.
CREATE TABLE news (
    id                    bigserial PRIMARY KEY,
    union_id              bigint      NOT NULL REFERENCES unions (id),
    scope                 text        NOT NULL CHECK (scope IN ('union', 'subtree')),
    source                text        NOT NULL CHECK (source IN ('authored', 'link', 'account')),
    title                 text        NOT NULL,
    author                text,
    account_name          text,
    cover_url             text,
    digest                text,
    body_html             text        NOT NULL,
    source_url            text,
    status                text        NOT NULL CHECK (status IN ('draft', 'published', 'unpublished')),
    published_at          timestamptz,
    original_published_at timestamptz,
    created_by            bigint REFERENCES users (id),
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX news_feed ON news (union_id, id) WHERE status = 'published';
CREATE UNIQUE INDEX news_source_once ON news (union_id, source_url) WHERE source_url IS NOT NULL;
