use std::io::{self, Write};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Format;

/// The size of the chunks a file leaves in.
const CHUNK: usize = 64 * 1024;

/// Rows waiting for the writer; a slow client holds the database read back through it.
const ROWS_BUFFERED: usize = 256;

/// A chunk of the file, or why writing it failed.
pub type FileChunk = io::Result<Bytes>;

/// Starts writing a file of `format` on a blocking thread: send it rows (the header
/// first), drop the sender to finish, and read the file from `out` as it is made. An
/// XLSX keeps its rows in a temporary file (rust_xlsxwriter's constant-memory mode), so
/// memory stays flat however many rows there are.
pub fn spawn_writer(
    format: Format,
    out: mpsc::Sender<FileChunk>,
) -> (mpsc::Sender<Vec<String>>, JoinHandle<()>) {
    let (rows, mut incoming) = mpsc::channel::<Vec<String>>(ROWS_BUFFERED);
    let task = tokio::task::spawn_blocking(move || {
        let mut chunks = Chunks {
            buffer: Vec::with_capacity(CHUNK),
            out: out.clone(),
        };
        let written = match format {
            Format::Csv => write_csv(&mut incoming, &mut chunks),
            Format::Xlsx => write_xlsx(&mut incoming, &mut chunks),
        }
        .and_then(|()| chunks.flush());
        if let Err(e) = written {
            let _ = out.blocking_send(Err(e));
        }
    });
    (rows, task)
}

fn write_csv(rows: &mut mpsc::Receiver<Vec<String>>, out: &mut Chunks) -> io::Result<()> {
    // The BOM makes Excel read the file as UTF-8 rather than the system code page.
    out.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv::Writer::from_writer(out);
    while let Some(row) = rows.blocking_recv() {
        writer.write_record(row.iter().map(|cell| defused(cell).as_bytes().to_vec()))?;
    }
    writer.flush()
}

/// Characters that make a spreadsheet read a CSV cell as a formula.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV cell that Excel will show as text: one that would start a formula (a name
/// like `=HYPERLINK(…)`) gets a leading `'`, which the import removes again.
fn defused(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn write_xlsx(rows: &mut mpsc::Receiver<Vec<String>>, out: &mut Chunks) -> io::Result<()> {
    let failed = |e: rust_xlsxwriter::XlsxError| io::Error::other(e.to_string());
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(failed)?;
    let mut r = 0u32;
    while let Some(row) = rows.blocking_recv() {
        for (c, value) in row.iter().enumerate() {
            sheet.write_string(r, c as u16, value).map_err(failed)?;
        }
        r += 1;
    }
    workbook.save_to_writer(out).map_err(failed)
}

/// Collects written bytes and sends them on in chunks; a gone reader ends the writing.
struct Chunks {
    buffer: Vec<u8>,
    out: mpsc::Sender<FileChunk>,
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.out
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))
    }
}

/// A cell of a value that may be absent: its text, or an empty cell.
pub(crate) fn text<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheets::read_table;

    async fn round_trip(format: Format) {
        let (out, mut file) = mpsc::channel(4);
        let (rows, task) = spawn_writer(format, out);
        let collect = tokio::spawn(async move {
            let mut bytes = Vec::new();
            while let Some(chunk) = file.recv().await {
                bytes.extend_from_slice(&chunk.unwrap());
            }
            bytes
        });
        rows.send(vec!["姓名".into(), "手机号".into()])
            .await
            .unwrap();
        rows.send(vec!["=HYPERLINK(\"x\")".into(), "-1".into()])
            .await
            .unwrap();
        for n in 0..3000 {
            rows.send(vec![format!("会员{n}"), format!("138{n:08}")])
                .await
                .unwrap();
        }
        drop(rows);
        task.await.unwrap();
        let bytes = collect.await.unwrap();
        let table = read_table(format, &bytes, 5000).unwrap();
        assert_eq!(table.header, ["姓名", "手机号"]);
        assert_eq!(table.rows.len(), 3001);
        let evil = &table.rows[0].1;
        let expected = match format {
            Format::Csv => ["'=HYPERLINK(\"x\")", "'-1"],
            Format::Xlsx => ["=HYPERLINK(\"x\")", "-1"],
        };
        assert_eq!(evil, &expected);
        assert_eq!(table.rows[3000].1, ["会员2999", "13800002999"]);
    }

    #[tokio::test]
    async fn a_written_csv_reads_back() {
        round_trip(Format::Csv).await;
    }

    #[tokio::test]
    async fn a_written_xlsx_reads_back() {
        round_trip(Format::Xlsx).await;
    }
}
