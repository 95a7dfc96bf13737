//! News: drafts, publishing and unpublishing by admins with `news.publish`, imports of
//! official-account articles, and each union's feed — its own news and what its
//! ancestors published to their subtrees. Publishing appends `news.published` to the
//! topic of every union in the audience in one statement, so every session of every one
//! of them sees it at once.

use gonghui_protocol::dto::{News, NewsSummary};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::json;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::access::require;
use super::audit;
use super::events::EventBatch;
use super::tokens::Principal;
use super::{keyset, Store};
use crate::domain::{link_key, Article, Scope};
use crate::domain::{BoundedText, Permission};
use crate::{Error, Result};

pub(crate) const COLUMNS: &str = "n.id, n.union_id, n.scope, n.source, n.title, n.author, n.account_name, n.cover_url,
                       n.digest, n.body_html, n.source_url, n.status, n.published_at, n.original_published_at";

pub(crate) fn news_from_row(r: &Row) -> News {
    News {
        id: r.get("id"),
        union_id: r.get("union_id"),
        scope: r.get("scope"),
        source: r.get("source"),
        title: r.get("title"),
        author: r.get("author"),
        account_name: r.get("account_name"),
        cover_url: r.get("cover_url"),
        digest: r.get("digest"),
        body_html: r.get("body_html"),
        source_url: r.get("source_url"),
        status: r.get("status"),
        published_at: r.get("published_at"),
        original_published_at: r.get("original_published_at"),
    }
}

/// How an article reads in a feed and in `news.published`.
pub fn summary(news: &News) -> NewsSummary {
    NewsSummary {
        id: news.id,
        union_id: news.union_id,
        title: news.title.clone(),
        account_name: news.account_name.clone(),
        cover_url: news.cover_url.clone(),
        digest: news.digest.clone(),
        published_at: news.published_at,
    }
}

/// A checked article written in the console.
#[derive(Debug, Clone)]
pub struct Draft {
    pub title: BoundedText,
    /// Already sanitised.
    pub body_html: String,
    pub cover_url: Option<String>,
    pub digest: Option<BoundedText>,
    pub scope: Scope,
}

impl Store {
    /// Saves an authored article as a draft.
    ///
    /// # Errors
    /// `NotFound`/`Forbidden` without `news.publish` on the union.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn create_news(
        &self,
        admin: &Principal,
        union_id: i64,
        draft: &Draft,
    ) -> Result<News> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::NewsPublish).await?;
        let row = tx
            .query_one(
                &format!(
                    "WITH n AS (INSERT INTO news (union_id, scope, source, title, cover_url, digest, body_html, status, created_by)
                                VALUES ($1, $2, 'authored', $3, $4, $5, $6, 'draft', $7) RETURNING *)
                     SELECT {COLUMNS} FROM n"
                ),
                &[
                    &union_id,
                    &draft.scope.as_str(),
                    &draft.title.as_str(),
                    &draft.cover_url,
                    &draft.digest.as_ref().map(BoundedText::as_str),
                    &draft.body_html,
                    &admin.user_id,
                ],
            )
            .await?;
        let news = news_from_row(&row);
        audit::record(
            &tx,
            admin,
            union_id,
            "news.create",
            ("news", news.id),
            json!({ "title": news.title }),
        )
        .await?;
        tx.commit().await?;
        Ok(news)
    }

    /// Rewrites an article that is not published.
    ///
    /// # Errors
    /// `Conflict` while published (unpublish first); `Forbidden` without `news.publish`.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, id = id))]
    pub async fn update_news(&self, admin: &Principal, id: i64, draft: &Draft) -> Result<News> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let current = self.news_in(&tx, id, true).await?;
        require(
            &tx,
            admin.user_id,
            current.union_id,
            Permission::NewsPublish,
        )
        .await?;
        if current.status == "published" {
            return Err(Error::Conflict(
                "unpublish the article before editing it".into(),
            ));
        }
        let row = tx
            .query_one(
                &format!(
                    "WITH n AS (UPDATE news SET scope = $2, title = $3, cover_url = $4, digest = $5, body_html = $6
                                WHERE id = $1 RETURNING *)
                     SELECT {COLUMNS} FROM n"
                ),
                &[
                    &id,
                    &draft.scope.as_str(),
                    &draft.title.as_str(),
                    &draft.cover_url,
                    &draft.digest.as_ref().map(BoundedText::as_str),
                    &draft.body_html,
                ],
            )
            .await?;
        audit::record(
            &tx,
            admin,
            current.union_id,
            "news.update",
            ("news", id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(news_from_row(&row))
    }

    /// Whether an article known by the key of `url` was imported into the union before,
    /// so the same link is refused without fetching it again.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn news_link_known(&self, union_id: i64, url: &str) -> Result<bool> {
        let Some(key) = link_key(url) else {
            return Ok(false);
        };
        let conn = self.client().await?;
        let row = conn.query_one(KNOWN_BY, &[&union_id, &vec![key]]).await?;
        Ok(row.get(0))
    }

    /// Stores an imported official-account article, published at once or as a draft.
    ///
    /// # Errors
    /// `Conflict` if this link was imported into the union before.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn import_news(
        &self,
        admin: &Principal,
        union_id: i64,
        url: &str,
        article: &Article,
        scope: Scope,
        publish: bool,
    ) -> Result<News> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::NewsPublish).await?;
        let keys: Vec<String> = link_key(url)
            .into_iter()
            .chain(article.page_key.clone())
            .collect();
        if imported_before(&tx, union_id, &keys).await? {
            return Err(Error::Conflict(
                "this article was imported here before".into(),
            ));
        }
        let inserted = tx
            .query_one(
                &format!(
                    "WITH n AS (INSERT INTO news (union_id, scope, source, title, author, account_name, cover_url, digest,
                                                  body_html, source_url, status, original_published_at, created_by, link_keys)
                                VALUES ($1, $2, 'link', $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $11, $12) RETURNING *)
                     SELECT {COLUMNS} FROM n"
                ),
                &[
                    &union_id,
                    &scope.as_str(),
                    &article.title,
                    &article.author,
                    &article.account_name,
                    &article.cover_url,
                    &article.digest,
                    &article.body_html,
                    &url,
                    &article.published_at,
                    &admin.user_id,
                    &keys,
                ],
            )
            .await;
        let mut news = match inserted {
            Ok(row) => news_from_row(&row),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(Error::Conflict(
                    "this article was imported here before".into(),
                ))
            }
            Err(e) => return Err(Error::from(e)),
        };
        audit::record(
            &tx,
            admin,
            union_id,
            "news.import",
            ("news", news.id),
            json!({ "url": url }),
        )
        .await?;
        let mut events = EventBatch::new();
        if publish {
            news = set_status(&tx, &mut events, &news, "published").await?;
        }
        self.commit(tx, events).await?;
        Ok(news)
    }

    /// Publishes or unpublishes an article; every union in its audience hears of it.
    ///
    /// # Errors
    /// `Conflict` when it already has that status; `Forbidden` without `news.publish`.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, id = id))]
    pub async fn set_news_status(&self, admin: &Principal, id: i64, publish: bool) -> Result<News> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let current = self.news_in(&tx, id, true).await?;
        require(
            &tx,
            admin.user_id,
            current.union_id,
            Permission::NewsPublish,
        )
        .await?;
        let to = if publish { "published" } else { "unpublished" };
        if current.status == to || (!publish && current.status == "draft") {
            return Err(Error::Conflict(format!(
                "the article is {}",
                current.status
            )));
        }
        let mut events = EventBatch::new();
        let news = set_status(&tx, &mut events, &current, to).await?;
        audit::record(
            &tx,
            admin,
            current.union_id,
            if publish {
                "news.publish"
            } else {
                "news.unpublish"
            },
            ("news", id),
            json!({}),
        )
        .await?;
        self.commit(tx, events).await?;
        Ok(news)
    }

    /// An article: published ones for anyone signed in, the others for admins with
    /// `news.publish` on the union.
    #[tracing::instrument(skip_all, fields(viewer = viewer, id = id))]
    pub async fn news(&self, viewer: i64, id: i64) -> Result<News> {
        let conn = self.client().await?;
        let news = self.news_in(&conn, id, false).await?;
        if news.status != "published"
            && !self
                .has_permission(viewer, news.union_id, Permission::NewsPublish)
                .await?
        {
            return Err(Error::NotFound(format!("no news {id}")));
        }
        Ok(news)
    }

    /// A union's feed, newest first: its own published news and its ancestors' published
    /// to their subtrees, with ids below `before`.
    #[tracing::instrument(skip_all, fields(union_id = union_id, limit = limit))]
    pub async fn feed(
        &self,
        union_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<NewsSummary>, Option<i64>)> {
        let conn = self.client().await?;
        super::unions::union_in(&conn, union_id).await?;
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM unions me, news n
                 WHERE me.id = $1 AND n.status = 'published' AND n.id < $2
                   AND (n.union_id = me.id OR (n.scope = 'subtree' AND n.union_id = ANY (me.path)))
                 ORDER BY n.id DESC LIMIT $3"
            ))
            .await?;
        let rows = conn
            .query(
                &stmt,
                &[&union_id, &before.unwrap_or(i64::MAX), &(limit + 1)],
            )
            .await?;
        let items = rows.iter().map(|r| summary(&news_from_row(r))).collect();
        Ok(keyset(items, limit, |n: &NewsSummary| n.id))
    }

    async fn news_in(
        &self,
        conn: &impl deadpool_postgres::GenericClient,
        id: i64,
        lock: bool,
    ) -> Result<News> {
        let sql = format!(
            "SELECT {COLUMNS} FROM news n WHERE n.id = $1{}",
            if lock { " FOR UPDATE" } else { "" }
        );
        let row = conn
            .query_opt(&sql, &[&id])
            .await?
            .ok_or_else(|| Error::NotFound(format!("no news {id}")))?;
        Ok(news_from_row(&row))
    }
}

/// Sets a status inside `tx` and appends `news.published` or `news.unpublished` to the
/// topic of every union in the audience, in topic-name order like every other writer.
/// Whether union `$1` holds an article known by any of the keys `$2`.
const KNOWN_BY: &str = "SELECT EXISTS (SELECT 1 FROM news WHERE union_id = $1 AND link_keys && $2)";

/// Whether the union holds an article known by any of `keys`, checked under the union's
/// import lock (held to the end of `tx`), so two imports of one article cannot both land.
pub(crate) async fn imported_before(
    tx: &deadpool_postgres::Transaction<'_>,
    union_id: i64,
    keys: &[String],
) -> Result<bool> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('news-import:' || ($1::bigint)::text))",
        &[&union_id],
    )
    .await?;
    if keys.is_empty() {
        return Ok(false);
    }
    let row = tx.query_one(KNOWN_BY, &[&union_id, &keys]).await?;
    Ok(row.get(0))
}

pub(crate) async fn set_status(
    tx: &deadpool_postgres::Transaction<'_>,
    events: &mut EventBatch,
    news: &News,
    to: &str,
) -> Result<News> {
    let row = tx
        .query_one(
            &format!(
                "WITH n AS (UPDATE news SET status = $2, published_at = CASE WHEN $2 = 'published' THEN now() ELSE published_at END
                            WHERE id = $1 RETURNING *)
                 SELECT {COLUMNS} FROM n"
            ),
            &[&news.id, &to],
        )
        .await?;
    let news = news_from_row(&row);
    let (kind, data) = if to == "published" {
        (kind::NEWS_PUBLISHED, json!({ "news": summary(&news) }))
    } else {
        (kind::NEWS_UNPUBLISHED, json!({ "news_id": news.id }))
    };
    let audience = tx
        .query(
            "SELECT id FROM unions WHERE id = $1 OR ($2 AND path @> ARRAY[$1]::bigint[]) ORDER BY id",
            &[&news.union_id, &(news.scope == "subtree")],
        )
        .await?;
    for union in audience {
        events.push(Topic::Union(union.get("id")), kind, &data);
    }
    Ok(news)
}
