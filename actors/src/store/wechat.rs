//! Official accounts bound to unions and what polling them does to the database:
//! claiming due accounts (one node each, SKIP LOCKED), importing new articles once,
//! backing off, and marking a binding broken — each failure told to the union's admins
//! live. Also the mini-program's openid links.

use std::time::Duration;

use gonghui_protocol::dto::WeChatAccount;
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::json;
use tokio_postgres::Row;

use super::access::require;
use super::audit;
use super::events::EventBatch;
use super::news::{imported_before, news_from_row, set_status, COLUMNS};
use super::tokens::Principal;
use super::Store;
use crate::domain::Article;
use crate::domain::Permission;
use crate::{Error, Result};

fn account_from_row(r: &Row) -> WeChatAccount {
    WeChatAccount {
        union_id: r.get("union_id"),
        app_id: r.get("app_id"),
        status: r.get("status"),
        broken_reason: r.get("broken_reason"),
        last_polled_at: r.get("last_polled_at"),
        next_poll_at: r.get("next_poll_at"),
    }
}

const ACCOUNT: &str = "SELECT union_id, app_id, status, broken_reason, last_polled_at, next_poll_at FROM wechat_accounts";

/// A bound account's credentials, for the adapter.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub union_id: i64,
    pub app_id: String,
    pub secret: String,
}

impl Store {
    /// Binds (or binds again, mending a broken one) a union's official account.
    ///
    /// # Errors
    /// `NotFound`/`Forbidden` without `news.publish` on the union.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn bind_wechat_account(
        &self,
        admin: &Principal,
        union_id: i64,
        app_id: &str,
        secret: &str,
    ) -> Result<WeChatAccount> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::NewsPublish).await?;
        let sealed = self.secrets().encrypt(secret);
        let row = tx
            .query_one(
                "WITH a AS (INSERT INTO wechat_accounts (union_id, app_id, secret_enc, bound_by) VALUES ($1, $2, $3, $4)
                            ON CONFLICT (union_id) DO UPDATE SET app_id = excluded.app_id, secret_enc = excluded.secret_enc,
                                status = 'active', broken_reason = NULL, failures = 0, next_poll_at = now(),
                                bound_by = excluded.bound_by, bound_at = now()
                            RETURNING *)
                 SELECT union_id, app_id, status, broken_reason, last_polled_at, next_poll_at FROM a",
                &[&union_id, &app_id, &sealed, &admin.user_id],
            )
            .await?;
        audit::record(
            &tx,
            admin,
            union_id,
            "wechat.bind",
            ("union", union_id),
            json!({ "app_id": app_id }),
        )
        .await?;
        tx.commit().await?;
        Ok(account_from_row(&row))
    }

    /// Unbinds a union's account.
    ///
    /// # Errors
    /// `NotFound` when none is bound.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn unbind_wechat_account(&self, admin: &Principal, union_id: i64) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::NewsPublish).await?;
        if tx
            .execute(
                "DELETE FROM wechat_accounts WHERE union_id = $1",
                &[&union_id],
            )
            .await?
            == 0
        {
            return Err(Error::NotFound(
                "no official account is bound to this union".into(),
            ));
        }
        audit::record(
            &tx,
            admin,
            union_id,
            "wechat.unbind",
            ("union", union_id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A union's bound account.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn wechat_account(&self, admin: &Principal, union_id: i64) -> Result<WeChatAccount> {
        let conn = self.client().await?;
        require(&conn, admin.user_id, union_id, Permission::NewsPublish).await?;
        let row = conn
            .query_opt(&format!("{ACCOUNT} WHERE union_id = $1"), &[&union_id])
            .await?
            .ok_or_else(|| Error::NotFound("no official account is bound to this union".into()))?;
        Ok(account_from_row(&row))
    }

    /// A bound account's credentials.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn wechat_credentials(&self, union_id: i64) -> Result<Credentials> {
        let conn = self.client().await?;
        let row = conn
            .query_opt(
                "SELECT app_id, secret_enc FROM wechat_accounts WHERE union_id = $1",
                &[&union_id],
            )
            .await?
            .ok_or_else(|| Error::NotFound("no official account is bound to this union".into()))?;
        self.credentials(union_id, &row)
    }

    fn credentials(&self, union_id: i64, row: &Row) -> Result<Credentials> {
        let secret = self
            .secrets()
            .decrypt(&row.get::<_, Vec<u8>>(1))
            .ok_or_else(|| {
                Error::Unavailable("a bound account's secret does not decrypt".into())
            })?;
        Ok(Credentials {
            union_id,
            app_id: row.get(0),
            secret,
        })
    }

    /// Claims up to `limit` active accounts due for a poll; the next is pushed `every`
    /// ahead, so no other node takes them meanwhile.
    #[tracing::instrument(skip_all, fields(limit = limit))]
    pub async fn claim_due_accounts(
        &self,
        limit: i64,
        every: Duration,
    ) -> Result<Vec<Credentials>> {
        let conn = self.client().await?;
        let rows = conn
            .query(
                "UPDATE wechat_accounts SET next_poll_at = now() + make_interval(secs => $2)
                 WHERE union_id IN (SELECT union_id FROM wechat_accounts WHERE status = 'active' AND next_poll_at <= now()
                                    ORDER BY next_poll_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                 RETURNING app_id, secret_enc, union_id",
                &[&limit, &every.as_secs_f64()],
            )
            .await?;
        rows.iter().map(|r| self.credentials(r.get(2), r)).collect()
    }

    /// Stores a pulled article, checked ([`AccountArticle::check`](crate::domain::AccountArticle::check)),
    /// once (by its link `url`), published to the union at once; answers whether it was new.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn import_account_article(
        &self,
        union_id: i64,
        article: &Article,
        url: &str,
    ) -> Result<bool> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let keys: Vec<String> = article.page_key.iter().cloned().collect();
        if imported_before(&tx, union_id, &keys).await? {
            return Ok(false);
        }
        let row = tx
            .query_opt(
                &format!(
                    "WITH n AS (INSERT INTO news (union_id, scope, source, title, author, account_name, cover_url, digest,
                                                  body_html, source_url, status, link_keys)
                                SELECT $1, 'union', 'account', $2, $3, NULL, $4, $5, $6, $7, 'draft', $8
                                ON CONFLICT (union_id, source_url) WHERE source_url IS NOT NULL DO NOTHING RETURNING *)
                     SELECT {COLUMNS} FROM n"
                ),
                &[
                    &union_id,
                    &article.title,
                    &article.author,
                    &article.cover_url,
                    &article.digest,
                    &article.body_html,
                    &url,
                    &keys,
                ],
            )
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let mut events = EventBatch::new();
        set_status(&tx, &mut events, &news_from_row(&row), "published").await?;
        self.commit(tx, events).await?;
        Ok(true)
    }

    /// Unpublishes a pulled article its account has since deleted (if it is published
    /// here); every union in its audience hears `news.unpublished`.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn withdraw_account_article(&self, union_id: i64, url: &str) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM news n WHERE n.union_id = $1 AND n.source_url = $2
                       AND n.status = 'published' FOR UPDATE"
                ),
                &[&union_id, &url],
            )
            .await?;
        let mut events = EventBatch::new();
        if let Some(row) = row {
            set_status(&tx, &mut events, &news_from_row(&row), "unpublished").await?;
            tracing::info!(union_id, url, "withdrew an article its account deleted");
        }
        self.commit(tx, events).await?;
        Ok(())
    }

    /// The mini-program code of `scene` opening `page`: the one kept, or else the one
    /// `make` gets from WeChat, kept for every node. Nodes asking at once wait on one
    /// lock, so WeChat is asked once per code however many nodes there are.
    ///
    /// # Errors
    /// `make`'s error, or the database's.
    #[tracing::instrument(skip_all)]
    pub async fn mini_code<F>(&self, scene: &str, page: &str, make: F) -> Result<Vec<u8>>
    where
        F: std::future::Future<Output = Result<Vec<u8>>>,
    {
        const KEPT: &str = "SELECT png FROM miniprogram_codes WHERE scene = $1 AND page = $2";
        let mut conn = self.client().await?;
        // Kept codes are read without a lock; only a missing one waits its turn to be made.
        if let Some(row) = conn.query_opt(KEPT, &[&scene, &page]).await? {
            return Ok(row.get(0));
        }
        let tx = conn.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('mini-code:' || $1 || ':' || $2))",
            &[&scene, &page],
        )
        .await?;
        if let Some(row) = tx.query_opt(KEPT, &[&scene, &page]).await? {
            return Ok(row.get(0));
        }
        let png = make.await?;
        tx.execute(
            "INSERT INTO miniprogram_codes (scene, page, png) VALUES ($1, $2, $3)",
            &[&scene, &page, &png],
        )
        .await?;
        tx.commit().await?;
        Ok(png)
    }

    /// A poll went through: the account is healthy again.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn poll_succeeded(&self, union_id: i64) -> Result<()> {
        let conn = self.client().await?;
        conn.execute(
            "UPDATE wechat_accounts SET last_polled_at = now(), failures = 0 WHERE union_id = $1",
            &[&union_id],
        )
        .await?;
        Ok(())
    }

    /// A poll failed for a reason that may pass: the next waits `base` doubled per
    /// failure in a row (at most an hour), and the union's admins are told.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn poll_failed(&self, union_id: i64, reason: &str, base: Duration) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_one(
                "UPDATE wechat_accounts SET failures = failures + 1,
                        next_poll_at = now() + make_interval(secs => least($2 * power(2, failures), 3600))
                 WHERE union_id = $1 RETURNING next_poll_at",
                &[&union_id, &base.as_secs_f64()],
            )
            .await?;
        let retry_at: chrono::DateTime<chrono::Utc> = row.get(0);
        let mut events = EventBatch::new();
        events.push(
            Topic::UnionAdmin(union_id),
            kind::WECHAT_POLL_FAILED,
            json!({ "reason": reason, "retry_at": retry_at }),
        );
        self.commit(tx, events).await?;
        Ok(())
    }

    /// The account refused us for good: it is marked broken (no more polls) and the
    /// union's admins are told, until someone binds it again.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn binding_broken(&self, union_id: i64, reason: &str) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "UPDATE wechat_accounts SET status = 'broken', broken_reason = $2 WHERE union_id = $1",
            &[&union_id, &reason],
        )
        .await?;
        let mut events = EventBatch::new();
        events.push(
            Topic::UnionAdmin(union_id),
            kind::WECHAT_BINDING_BROKEN,
            json!({ "reason": reason }),
        );
        self.commit(tx, events).await?;
        Ok(())
    }

    /// The user linked to a mini-program openid.
    #[tracing::instrument(skip_all)]
    pub async fn user_for_openid(&self, openid: &str) -> Result<Option<i64>> {
        let conn = self.client().await?;
        Ok(conn
            .query_opt("SELECT id FROM users WHERE wechat_openid = $1", &[&openid])
            .await?
            .map(|r| r.get(0)))
    }

    /// Links an openid to a user.
    ///
    /// # Errors
    /// `Conflict` if the user is linked to another WeChat user already.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn link_openid(&self, user_id: i64, openid: &str) -> Result<()> {
        let conn = self.client().await?;
        let linked = conn
            .execute(
                "UPDATE users SET wechat_openid = $2 WHERE id = $1 AND (wechat_openid IS NULL OR wechat_openid = $2)",
                &[&user_id, &openid],
            )
            .await?;
        if linked == 0 {
            return Err(Error::Conflict(
                "this phone's account is linked to another WeChat user".into(),
            ));
        }
        Ok(())
    }
}
