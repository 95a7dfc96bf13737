-- The keys an imported article is known by: its link's (`s/{id}` for a short link,
-- `biz=…&mid=…&idx=…` for a long one) and the long form its page names, so the same
-- article imported by either form is one article.
ALTER TABLE news ADD COLUMN link_keys text[] NOT NULL DEFAULT '{}';
CREATE INDEX news_link_keys ON news USING gin (link_keys);
