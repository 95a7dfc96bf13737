use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Reader};

use crate::domain::Invalid;

/// The most bytes an XLSX may expand to when unzipped: a small file of repeated cells
/// must not become gigabytes in memory.
const MAX_UNZIPPED: u64 = 256 * 1024 * 1024;

/// The widest sheet read: every template has a dozen columns or so.
const MAX_COLUMNS: usize = 64;

/// A spreadsheet format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, UTF-8 (with or without BOM) or GB18030 as Excel saves it in China.
    Csv,
    /// An Excel workbook; its first sheet is read.
    Xlsx,
}

impl Format {
    /// The format named by a `format` query value or a content type, else guessed from
    /// the bytes (an XLSX is a zip file).
    pub fn detect(named: Option<&str>, bytes: &[u8]) -> Result<Format, Invalid> {
        match named.map(|n| n.split(';').next().unwrap_or("").trim()) {
            Some("csv" | "text/csv") => Ok(Format::Csv),
            Some("xlsx" | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") => {
                Ok(Format::Xlsx)
            }
            None | Some("" | "application/octet-stream") if bytes.starts_with(b"PK\x03\x04") => {
                Ok(Format::Xlsx)
            }
            None | Some("" | "application/octet-stream") => Ok(Format::Csv),
            Some(other) => Err(Invalid::new(
                "format",
                format!(
                    "{:?} is not a spreadsheet format: send CSV (text/csv) or XLSX",
                    other.chars().take(80).collect::<String>()
                ),
            )),
        }
    }

    /// The content type of a file in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// A sheet's cells as text: the header row, then data rows with their 1-based row
/// numbers as the spreadsheet shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The first non-empty row.
    pub header: Vec<String>,
    /// (row number, cells) for every later row that is not blank.
    pub rows: Vec<(u32, Vec<String>)>,
}

/// Reads a CSV or the first sheet of an XLSX, refusing more than `max_rows` data rows.
///
/// # Errors
/// `Invalid` on the `file` field for an unreadable file, no header, or too many rows.
pub fn read_table(format: Format, bytes: &[u8], max_rows: usize) -> Result<Table, Invalid> {
    let rows = match format {
        Format::Csv => csv_rows(bytes, max_rows)?,
        Format::Xlsx => xlsx_rows(bytes, max_rows)?,
    };
    let mut rows = rows
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()));
    let (_, header) = rows
        .next()
        .ok_or_else(|| Invalid::new("file", "the file has no header row"))?;
    let rows: Vec<_> = rows.collect();
    if rows.len() > max_rows {
        return Err(too_many(max_rows));
    }
    Ok(Table {
        header: header.iter().map(|h| h.trim().to_owned()).collect(),
        rows,
    })
}

fn too_many(max_rows: usize) -> Invalid {
    Invalid::new(
        "file",
        format!("the file has more than {max_rows} rows; split it"),
    )
}

fn csv_rows(bytes: &[u8], max_rows: usize) -> Result<Vec<(u32, Vec<String>)>, Invalid> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => {
            let (text, _, bad) = encoding_rs::GB18030.decode(bytes);
            if bad {
                return Err(Invalid::new(
                    "file",
                    "the CSV is neither UTF-8 nor GB18030 text",
                ));
            }
            text
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    // The reader skips blank lines without counting them, so a record's line is worked
    // out from where it ends, less the line breaks inside its quoted cells.
    let (mut record, mut newlines, mut counted_to) = (csv::StringRecord::new(), 0usize, 0usize);
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(Invalid::new("file", format!("the CSV cannot be read: {e}"))),
        }
        let end = reader.position().byte() as usize;
        let body = text[counted_to..end].trim_end_matches(['\r', '\n']);
        newlines += body.matches('\n').count();
        let inside: usize = record.iter().map(|cell| cell.matches('\n').count()).sum();
        rows.push((
            (1 + newlines - inside) as u32,
            record.iter().map(str::to_owned).collect(),
        ));
        newlines += text[counted_to + body.len()..end].matches('\n').count();
        counted_to = end;
        if rows.len() > max_rows + 1 {
            return Err(too_many(max_rows));
        }
    }
    Ok(rows)
}

fn xlsx_rows(bytes: &[u8], max_rows: usize) -> Result<Vec<(u32, Vec<String>)>, Invalid> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Invalid::new("file", format!("not a readable XLSX workbook: {e}"))
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let mut unzipped = 0u64;
    for i in 0..zip.len() {
        unzipped += zip.by_index_raw(i).map_err(|e| unreadable(&e))?.size();
    }
    if unzipped > MAX_UNZIPPED {
        return Err(Invalid::new(
            "file",
            "the workbook unpacks to more than 256 MiB; split it",
        ));
    }
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let first_sheet = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| Invalid::new("file", "the workbook has no sheet"))?;
    // Cells are streamed, never laid out in the range the sheet declares: a file with
    // one cell at A1 and one at XFD1048576 must cost two cells, not the whole grid.
    let mut cells = workbook
        .worksheet_cells_reader(&first_sheet)
        .map_err(|e| unreadable(&e))?;
    let mut rows: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    while let Some(cell) = cells.next_cell().map_err(|e| unreadable(&e))? {
        let (row, column) = cell.get_position();
        let value = Data::from(cell.get_value().clone());
        if value == Data::Empty {
            continue;
        }
        let column = column as usize;
        if column >= MAX_COLUMNS {
            return Err(Invalid::new(
                "file",
                format!(
                    "the sheet has a value beyond column {MAX_COLUMNS} (row {})",
                    row + 1
                ),
            ));
        }
        if !rows.contains_key(&(row + 1)) && rows.len() > max_rows {
            return Err(too_many(max_rows));
        }
        let line = rows.entry(row + 1).or_default();
        if line.len() <= column {
            line.resize(column + 1, String::new());
        }
        line[column] = cell_text(&value);
    }
    Ok(rows.into_iter().collect())
}

/// A cell as the text a person typed: whole numbers without a decimal point (phones
/// typed as numbers), dates as `YYYY-MM-DD`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d
            .as_datetime()
            .map(|d| d.date().to_string())
            .unwrap_or_else(|| d.to_string()),
        Data::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_a_bom_and_blank_lines_reads_with_row_numbers() {
        let table = read_table(
            Format::Csv,
            "\u{feff}姓名,手机号\n张三,13800000000\n\n李四,13900000000\r\n\"王\n五\",1\n赵六,2"
                .as_bytes(),
            10,
        )
        .unwrap();
        assert_eq!(table.header, ["姓名", "手机号"]);
        assert_eq!(
            table.rows[0],
            (2, vec!["张三".into(), "13800000000".into()])
        );
        let lines: Vec<u32> = table.rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, [2, 4, 5, 7]);
    }

    #[test]
    fn gb18030_csv_is_decoded() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("姓名\n张三\n");
        let table = read_table(Format::Csv, &bytes, 10).unwrap();
        assert_eq!(table.rows[0].1, ["张三"]);
    }

    #[test]
    fn too_many_rows_and_garbage_workbooks_are_refused() {
        let err = read_table(Format::Csv, b"a\n1\n2\n3\n", 2).unwrap_err();
        assert!(err.reason.contains("more than 2 rows"), "{err}");
        let err = read_table(Format::Xlsx, b"PK\x03\x04garbage", 2).unwrap_err();
        assert!(err.reason.contains("not a readable XLSX"), "{err}");
    }

    #[test]
    fn formats_are_detected_by_name_or_by_content() {
        assert_eq!(
            Format::detect(Some("text/csv; charset=utf-8"), b"").unwrap(),
            Format::Csv
        );
        assert_eq!(
            Format::detect(None, b"PK\x03\x04...").unwrap(),
            Format::Xlsx
        );
        assert_eq!(Format::detect(None, b"name,phone").unwrap(), Format::Csv);
        assert!(Format::detect(Some("image/png"), b"").is_err());
    }
}
