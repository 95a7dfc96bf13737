//! The Postgres store: one module per aggregate, each adding methods to [`Store`].
//! Every write that clients should see appends its events in the same transaction
//! ([`events::EventBatch`]), so the log and the state never disagree.

pub mod access;
pub mod activities;
pub mod admins;
pub mod applications;
pub mod audit;
pub mod events;
pub mod export;
pub(crate) mod group;
pub mod idempotency;
pub mod import;
pub mod news;
pub mod notifications;
pub mod org;
pub mod rights;
pub mod roster;
pub mod sms;
pub mod snapshots;
pub mod token_cache;
pub mod tokens;
pub mod tree;
pub mod tree_file;
pub mod unions;
pub mod users;
pub mod verification;
pub mod wechat;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use crate::crypto::Secrets;
use crate::metrics::Metrics;
use gonghui_protocol::Topic;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// The advisory lock key that keeps nodes starting together from migrating at once.
const MIGRATION_LOCK: i64 = 0x676f_6e67_6875_6901;

/// A connection pool and the keys for data at rest.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    secrets: Secrets,
    rights: rights::RightsCache,
    /// Live tokens seen lately (`token_cache.rs`).
    tokens: std::sync::Arc<token_cache::TokenCache>,
    /// The clients' public address, for links (an activity's code).
    public_url: std::sync::Arc<str>,
    /// The downloads running.
    exports: std::sync::Arc<export::ExportGate>,
    /// Woken when a change commits events to the outbox (see `hub::log_writer`).
    outbox: std::sync::Arc<tokio::sync::Notify>,
    /// How long a call waits for a free connection before it is answered 503.
    pool_wait: Duration,
    /// Decisions on applications waiting to be made together (`applications/decisions.rs`).
    decisions: std::sync::Arc<applications::Decisions>,
    /// Applications waiting to be filed together (`applications/filing.rs`).
    filings: std::sync::Arc<applications::Filings>,
    /// Reads of topics' log bounds waiting to be made together (`events.rs`).
    bounds: std::sync::Arc<group::Turns<group::Asked<Topic, events::LogBounds>>>,
    /// Token checks waiting to be read together (`tokens.rs`).
    token_reads: std::sync::Arc<group::Turns<group::Asked<Vec<u8>, Option<tokens::Principal>>>>,
    /// Hellos' topic lists waiting to be read together (`access.rs`).
    hello_topics: std::sync::Arc<group::Turns<group::Asked<i64, Vec<String>>>>,
    /// Checks of who may read a union's topic waiting to be made together (`access.rs`).
    union_readers: std::sync::Arc<group::Turns<group::Asked<(i64, i64), bool>>>,
    /// Members' snapshots waiting to be read together (`snapshots.rs`).
    member_snapshots: std::sync::Arc<group::Turns<group::Asked<i64, (u64, serde_json::Value)>>>,
    /// What the node counts for `/metrics`.
    metrics: std::sync::Arc<Metrics>,
    /// How long an idempotency key's first request holds it (`idempotency.rs`).
    idempotency_lease: Duration,
}

/// How long a call waits for a free connection by default: long enough for a reconnect
/// storm's hellos to queue rather than fail (1 s failed two thirds of 10,000 here,
/// docs/BENCHMARKS.md), after which the call is answered 503 with `Retry-After`.
pub const POOL_WAIT: Duration = Duration::from_secs(5);

/// How long an idempotency key's first request holds it by default: longer than any
/// request runs (a body may take 30 s to arrive, an import as long again to apply).
pub const IDEMPOTENCY_LEASE: Duration = Duration::from_secs(120);

impl Store {
    /// Opens a pool of at most `max_connections` to `database_url`.
    ///
    /// # Errors
    /// When the URL does not parse.
    pub fn connect(
        database_url: &str,
        max_connections: usize,
        secrets: Secrets,
    ) -> anyhow::Result<Self> {
        let mut pg = tokio_postgres::Config::from_str(database_url)
            .context("DATABASE_URL does not parse")?;
        pg.connect_timeout(Duration::from_secs(5));
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .context("building the connection pool")?;
        Ok(Store {
            pool,
            secrets,
            rights: rights::RightsCache::default(),
            tokens: std::sync::Arc::default(),
            public_url: std::sync::Arc::from("https://gonghui.example.com"),
            exports: std::sync::Arc::new(export::ExportGate::new(export::ExportLimits::default())),
            outbox: std::sync::Arc::default(),
            pool_wait: POOL_WAIT,
            decisions: std::sync::Arc::default(),
            filings: std::sync::Arc::default(),
            bounds: std::sync::Arc::new(group::Turns::lookups()),
            union_readers: std::sync::Arc::new(group::Turns::lookups()),
            hello_topics: std::sync::Arc::new(group::Turns::lookups()),
            token_reads: std::sync::Arc::new(group::Turns::lookups()),
            member_snapshots: std::sync::Arc::new(group::Turns::lookups()),
            metrics: std::sync::Arc::default(),
            idempotency_lease: IDEMPOTENCY_LEASE,
        })
    }

    /// A pooled connection. The pool's error is converted by the caller's `?`, so a
    /// 503 names the operation and line that waited in vain.
    pub async fn client(
        &self,
    ) -> std::result::Result<deadpool_postgres::Object, deadpool_postgres::PoolError> {
        let timeouts = deadpool_postgres::Timeouts {
            wait: Some(self.pool_wait),
            create: Some(Duration::from_secs(5)),
            recycle: None,
        };
        self.pool.timeout_get(&timeouts).await
    }

    /// The same store, waiting at most `wait` for a free connection.
    pub fn with_pool_wait(mut self, wait: Duration) -> Self {
        self.pool_wait = wait;
        self
    }

    /// The same store, letting a retry take over an idempotency key whose first request
    /// has held it for `lease` without an answer.
    pub fn with_idempotency_lease(mut self, lease: Duration) -> Self {
        self.idempotency_lease = lease;
        self
    }

    /// The same store, linking to the clients at `public_url`.
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        self.public_url = std::sync::Arc::from(public_url.trim_end_matches('/'));
        self
    }

    /// This store with these download limits.
    pub fn with_export_limits(mut self, limits: export::ExportLimits) -> Self {
        self.exports = std::sync::Arc::new(export::ExportGate::new(limits));
        self
    }

    /// The node's cache of live tokens, for the bridge to invalidate.
    pub fn tokens(&self) -> &token_cache::TokenCache {
        &self.tokens
    }

    /// The node's cache of admin rights, for the bridge to invalidate.
    pub fn rights(&self) -> &rights::RightsCache {
        &self.rights
    }

    /// What the node counts, for everything holding this store.
    pub fn metrics(&self) -> &std::sync::Arc<Metrics> {
        &self.metrics
    }

    /// Sets the pool's gauges to what it holds now, before `/metrics` is rendered.
    pub fn measure_pool(&self) {
        let status = self.pool.status();
        let gauges = &self.metrics.db_connections;
        gauges
            .with_label_values(&["in_use"])
            .set(status.size.saturating_sub(status.available) as i64);
        gauges
            .with_label_values(&["idle"])
            .set(status.available as i64);
        gauges
            .with_label_values(&["max"])
            .set(status.max_size as i64);
        self.metrics.db_waiting.set(status.waiting as i64);
    }

    /// The keys for data at rest.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Whether the database answers, for `/readyz`.
    #[tracing::instrument(skip_all)]
    pub async fn ping(&self) -> bool {
        match self.pool.get().await {
            Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }
}

/// One page of a keyset-paged list, whose rows were read with `LIMIT limit + 1`: the
/// extra row only says there is more, and the next page starts after the last kept
/// row's `key`.
pub(crate) fn keyset<T>(
    mut items: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<i64>) {
    if items.len() as i64 <= limit {
        return (items, None);
    }
    items.truncate(limit as usize);
    let next = items.last().map(key);
    (items, next)
}

/// The `LIKE` pattern for "contains `text`", with its wildcards escaped.
pub(crate) fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Whether a startup error means Postgres could not be reached (worth retrying), not
/// that it refused (a wrong password, a missing role: retrying will not help).
pub fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .is_some_and(|pg| pg.as_db_error().is_none())
    })
}

/// Creates the database named in `database_url` if it does not exist yet, by connecting
/// to the `postgres` database of the same server.
///
/// # Errors
/// When the server cannot be reached or refuses.
pub async fn create_database_if_missing(database_url: &str) -> anyhow::Result<()> {
    let target =
        tokio_postgres::Config::from_str(database_url).context("DATABASE_URL does not parse")?;
    let name = target
        .get_dbname()
        .context("DATABASE_URL names no database")?
        .to_owned();
    let mut admin = target.clone();
    admin.dbname("postgres");
    let (client, connection) = admin
        .connect(NoTls)
        .await
        .context("connecting to the postgres database")?;
    let driver = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .context("looking up the database")?
        .is_some();
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match client
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
        {
            Ok(()) => tracing::info!(database = %name, "created the database"),
            // Two nodes starting together: the loser sees either error, depending on timing.
            Err(e)
                if [SqlState::DUPLICATE_DATABASE, SqlState::UNIQUE_VIOLATION]
                    .iter()
                    .any(|s| e.code() == Some(s)) => {}
            Err(e) => return Err(e).context("creating the database"),
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// Applies every migration not yet applied, holding an advisory lock so concurrent
/// starters wait for each other.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls)
        .await
        .context("connecting to migrate")?;
    let driver = tokio::spawn(connection);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("taking the migration lock")?;
    let report = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .context("applying migrations");
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .context("releasing the migration lock")?;
    for m in report?.applied_migrations() {
        tracing::info!(migration = %m, "applied");
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}
