//! Spreadsheets over HTTP. Uploads: the raw file is the request body (no multipart),
//! bounded in size before and while it is read, and parsed on the blocking pool so a
//! large workbook never stalls the worker that serves sockets; a node receives and reads
//! only `GONGHUI_SHEETS_AT_ONCE` files at a time (503 for the rest), each within the
//! reader's budget ([`gonghui_actors::sheets::read`]), so what uploads cost a node has a
//! ceiling whoever sends them. Downloads: a file streamed as the store makes it, with its
//! name.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpRequest, HttpResponse};
use gonghui_actors::sheets::write::FileChunk;
use gonghui_actors::sheets::{read_table, Format, Table};
use gonghui_actors::Error;

use crate::body::size;
use crate::extract::unknown_value;
use crate::state::AppState;
use tokio::sync::mpsc;

/// The largest upload accepted.
pub const MAX_UPLOAD: usize = 16 * 1024 * 1024;
/// The most data rows one file may hold.
pub const MAX_ROWS: usize = 50_000;

/// Reads the body (at most [`MAX_UPLOAD`] bytes) and the first sheet of the file in it,
/// and hands the table to `then` on the same blocking thread (checking each row of
/// 50,000 is work too); keep the [`GiveBack`] until done with what `then` made. The
/// format is the `format` query value if given, else the Content-Type, else guessed
/// from the bytes.
///
/// # Errors
/// `TooLarge` beyond the limit; `Invalid` for an unknown format or an unreadable file;
/// `Busy` while the node reads as many files as it may.
pub async fn read_upload<T: Send + 'static>(
    req: &HttpRequest,
    payload: web::Payload,
    format: Option<&str>,
    then: impl FnOnce(Table) -> Result<T, Error> + Send + 'static,
) -> Result<(T, GiveBack), Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered");
    // Taken before the body is read: the body is most of what a file costs.
    let _place = state.sheets.clone().try_acquire_owned().map_err(|_| {
        Error::Busy("this server is reading as many files as it may; try again shortly".into())
    })?;
    let too_large = || Error::TooLarge(format!("the file is over {}", size(MAX_UPLOAD)));
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD) {
        return Err(too_large());
    }
    let body = crate::body::read_all(payload.into_inner(), MAX_UPLOAD, "the file").await?;
    if body.is_empty() {
        return Err(Error::BadRequest(
            "send the file as the request body".into(),
        ));
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    // A `format` query value is one of two words, like every other (400 otherwise); a
    // content type is read as a client's guess (422 for one that is no spreadsheet).
    let format = match format {
        Some(named) => download_format(Some(named))?,
        None => Format::detect(content_type, &body)?,
    };
    let read = web::block(move || then(read_table(format, &body, MAX_ROWS)?))
        .await
        .map_err(|_| Error::Unavailable("the file could not be parsed".into()));
    // A refused file is given back at once; a read one when the caller is done with it.
    let give_back = GiveBack;
    Ok((read??, give_back))
}

/// Gives the memory a file's reading freed back to the system when dropped (at the end
/// of the call that read it): glibc keeps freed small blocks in each thread's arena, so a
/// node that read a 50,000-row file would otherwise hold tens of MiB it no longer uses.
#[must_use = "the memory is given back when this is dropped, after the file's rows are"]
pub struct GiveBack;

impl Drop for GiveBack {
    fn drop(&mut self) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // SAFETY: malloc_trim only returns free pages to the system, under the
            // allocator's own locks; it runs on a blocking thread because it walks every arena.
            runtime.spawn_blocking(|| unsafe {
                libc::malloc_trim(0);
            });
        }
    }
}

/// A download that only asks for its format.
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct DownloadParams {
    /// `csv` (default) or `xlsx`.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
}

/// The format a `format` query value names: `csv` (the default) or `xlsx`.
///
/// # Errors
/// `BadRequest` for anything else.
pub fn download_format(named: Option<&str>) -> Result<Format, Error> {
    match named {
        None | Some("csv") => Ok(Format::Csv),
        Some("xlsx") => Ok(Format::Xlsx),
        Some(other) => Err(unknown_value("format", other, &["csv", "xlsx"])),
    }
}

/// A streamed file download named `{name}.{extension}`.
pub fn download(format: Format, name: &str, file: mpsc::Receiver<FileChunk>) -> HttpResponse {
    let body = futures_util::stream::unfold(file, |mut file| async move {
        file.recv().await.map(|chunk| (chunk, file))
    });
    HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!(
                "{name}.{}",
                format.extension()
            ))],
        })
        .streaming(body)
}
