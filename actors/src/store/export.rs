//! Spreadsheet downloads: a query's rows streamed from a Postgres cursor through a
//! [`spawn_writer`] to the client, through bounded channels, so a download of 100,000
//! rows holds only a few hundred in memory and a slow client slows the cursor.
//!
//! A cursor holds a pooled connection, so downloads are bounded: a few at once per node
//! and per user (refused 503 and 429 before anything is written), and a client that
//! stops reading for [`ExportLimits::stall`], or takes longer than
//! [`ExportLimits::longest`] in all, is cut off and its connection goes back to the pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{pin_mut, TryStreamExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::Store;
use crate::metrics::{Job, Running};
use crate::sheets::write::{spawn_writer, FileChunk};
use crate::sheets::Format;
use crate::{Error, Result};

/// How many downloads may run, and how long one may take.
#[derive(Debug, Clone)]
pub struct ExportLimits {
    /// Downloads streaming at once on a node.
    pub at_once: usize,
    /// Downloads one user may have streaming at once on a node.
    pub per_user: usize,
    /// How long a download may go unread before it is cut off.
    pub stall: Duration,
    /// The longest a download may take in all.
    pub longest: Duration,
}

impl Default for ExportLimits {
    fn default() -> Self {
        ExportLimits {
            at_once: 4,
            per_user: 2,
            stall: Duration::from_secs(30),
            longest: Duration::from_secs(600),
        }
    }
}

/// The node's running downloads.
pub(crate) struct ExportGate {
    limits: ExportLimits,
    permits: Arc<Semaphore>,
    by_user: Arc<Mutex<HashMap<i64, usize>>>,
}

impl ExportGate {
    pub(crate) fn new(limits: ExportLimits) -> Self {
        ExportGate {
            permits: Arc::new(Semaphore::new(limits.at_once.max(1))),
            by_user: Arc::default(),
            limits,
        }
    }
}

/// A download's place, given up when it ends.
pub(crate) struct Admitted {
    _permit: OwnedSemaphorePermit,
    _running: Running,
    user_id: i64,
    by_user: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut by_user = self.by_user.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = by_user.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                by_user.remove(&self.user_id);
            }
        }
    }
}

/// Turns one row into its cells.
pub(crate) type Cells = Box<dyn Fn(&Row) -> Vec<String> + Send + Sync>;

/// A query whose rows become a file.
pub(crate) struct Export {
    pub format: Format,
    /// The first row.
    pub header: Vec<&'static str>,
    pub sql: &'static str,
    pub params: Vec<Box<dyn ToSql + Send + Sync>>,
    /// One row's cells, in the header's order.
    pub cells: Cells,
}

impl Store {
    /// Takes a place for a download by `user_id`, before anything is written for it.
    ///
    /// # Errors
    /// `Busy` when the node streams as many as it may; `RateLimited` when the user does.
    pub(crate) fn admit_export(&self, user_id: i64) -> Result<Admitted> {
        let gate = &self.exports;
        let permit = gate.permits.clone().try_acquire_owned().map_err(|_| {
            Error::Busy("this server is streaming as many downloads as it may; try again".into())
        })?;
        let mut by_user = gate.by_user.lock().unwrap_or_else(|p| p.into_inner());
        let running = by_user.entry(user_id).or_default();
        if *running >= gate.limits.per_user {
            return Err(Error::rate_limited(
                format!(
                    "you have {} downloads running; let one finish",
                    gate.limits.per_user
                ),
                5,
            ));
        }
        *running += 1;
        Ok(Admitted {
            _permit: permit,
            _running: self.metrics().running(Job::Export),
            user_id,
            by_user: gate.by_user.clone(),
        })
    }

    /// Starts streaming `export` in the place `admitted` holds; the file arrives in
    /// chunks on the receiver (an error chunk if the database fails half way, which
    /// ends the download).
    pub(crate) fn stream_export(
        &self,
        admitted: Admitted,
        export: Export,
    ) -> mpsc::Receiver<FileChunk> {
        let (out, file) = mpsc::channel(4);
        let (made, from_writer) = mpsc::channel(4);
        let store = self.clone();
        let limits = self.exports.limits.clone();
        tokio::spawn(async move {
            let _admitted = admitted;
            let (rows, writer) = spawn_writer(export.format, made.clone());
            let feed = async move {
                if let Err(e) = store.feed_export(&export, &rows).await {
                    tracing::warn!(error = %e, "an export stopped");
                    let _ = made
                        .send(Err(std::io::Error::other("the export stopped")))
                        .await;
                }
            };
            let both = futures_util::future::join(feed, deliver(from_writer, out, limits.stall));
            if tokio::time::timeout(limits.longest, both).await.is_err() {
                tracing::warn!("a download took too long and was cut off");
            }
            // Whatever ended it, the writer's channels are gone now, so it ends too.
            let _ = writer.await;
        });
        file
    }

    async fn feed_export(&self, export: &Export, rows: &mpsc::Sender<Vec<String>>) -> Result<()> {
        let header = export.header.iter().map(|h| (*h).to_owned()).collect();
        if rows.send(header).await.is_err() {
            return Ok(());
        }
        let conn = self.client().await?;
        let stmt = conn.prepare_cached(export.sql).await?;
        let params = export.params.iter().map(|p| &**p as &(dyn ToSql + Sync));
        let stream = conn.query_raw(&stmt, params).await?;
        pin_mut!(stream);
        while let Some(row) = stream.try_next().await? {
            if rows.send((export.cells)(&row)).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// Passes the file to the client, giving up when it goes `stall` without reading: the
/// writer and the cursor behind it then stop, and the connection returns to the pool.
async fn deliver(
    mut made: mpsc::Receiver<FileChunk>,
    out: mpsc::Sender<FileChunk>,
    stall: Duration,
) {
    while let Some(chunk) = made.recv().await {
        match tokio::time::timeout(stall, out.send(chunk)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::warn!(?stall, "a download went unread and was cut off");
                return;
            }
        }
    }
}
