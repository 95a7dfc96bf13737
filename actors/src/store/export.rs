//! Spreadsheet downloads: a query's rows streamed from a Postgres cursor through a
//! [`spawn_writer`] to the client, through bounded channels, so a download of 100,000
//! rows holds only a few hundred in memory and a slow client slows the cursor.

use futures_util::{pin_mut, TryStreamExt};
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::Store;
use crate::sheets::write::{spawn_writer, FileChunk};
use crate::sheets::Format;
use crate::Result;

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
    /// Starts streaming `export`; the file arrives in chunks on the receiver (an error
    /// chunk if the database fails half way, which ends the download).
    pub(crate) fn stream_export(&self, export: Export) -> mpsc::Receiver<FileChunk> {
        let (out, file) = mpsc::channel(4);
        let store = self.clone();
        tokio::spawn(async move {
            let (rows, writer) = spawn_writer(export.format, out.clone());
            if let Err(e) = store.feed_export(&export, &rows).await {
                tracing::warn!(error = %e, "an export stopped");
                let _ = out
                    .send(Err(std::io::Error::other("the export stopped")))
                    .await;
            }
            drop(rows);
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
