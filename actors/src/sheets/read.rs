//! Reading a spreadsheet into rows of text, within one budget whatever the format: a
//! file's cost is counted as it is read — columns, each cell's length, the bytes kept,
//! the bytes an XLSX unpacks to and the longest run of its XML — and the file is refused
//! the moment it passes a bound, before what it would cost is spent. A 7 KB workbook
//! whose one shared string is referenced by every cell, or a CSV of nothing but commas,
//! costs what a small honest file costs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{DataRef, Reader};

use crate::domain::Invalid;

/// The widest sheet read: every template has a dozen columns or so.
pub const MAX_COLUMNS: usize = 64;
/// The longest cell, in UTF-8 bytes: names, units and addresses are far shorter.
pub const MAX_CELL: usize = 4096;
/// The most a table may keep: each kept cell's text and the strings and rows that hold
/// it (50,000 rows of a dozen cells keep about 20 MiB).
pub const MAX_KEPT: usize = 32 << 20;
/// The most bytes all of an XLSX's parts may unpack to: bounds the time spent inflating.
const MAX_UNZIPPED: u64 = 128 << 20;
/// The most bytes the parts a reader holds whole (everything but the worksheets, above
/// all the shared strings) may unpack to.
const MAX_HELD_WHOLE: u64 = 8 << 20;
/// The longest run of an XML part between `<` and `>` or `>` and `<`: the most the XML
/// reader buffers for one tag or one text.
const MAX_XML_RUN: usize = 64 << 10;
/// The most parts a workbook may have; a spreadsheet has a dozen or two.
const MAX_PARTS: usize = 1000;
/// What a kept cell and a kept row cost beyond their text.
const CELL_COST: usize = std::mem::size_of::<String>();
const ROW_COST: usize = std::mem::size_of::<(u32, Vec<String>)>() + 16;

/// A spreadsheet format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, UTF-8 (with or without BOM) or GB18030 as Excel saves it in China.
    Csv,
    /// An Excel workbook; its first sheet is read.
    Xlsx,
}

impl Format {
    /// The format a content type names, else guessed from the bytes (an XLSX is a zip
    /// file).
    pub fn detect(content_type: Option<&str>, bytes: &[u8]) -> Result<Format, Invalid> {
        match content_type.map(|n| n.split(';').next().unwrap_or("").trim()) {
            Some("text/csv") => Ok(Format::Csv),
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") => {
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

/// Reads a CSV or the first sheet of an XLSX, refusing more than `max_rows` data rows
/// and anything past the module's bounds.
///
/// # Errors
/// `Invalid` on the `file` field for an unreadable file, no header, too many rows, or a
/// bound passed.
pub fn read_table(format: Format, bytes: &[u8], max_rows: usize) -> Result<Table, Invalid> {
    let mut kept = Kept::new(max_rows);
    match format {
        Format::Csv => csv_rows(bytes, &mut kept)?,
        Format::Xlsx => xlsx_rows(bytes, &mut kept)?,
    }
    let mut rows = kept
        .rows
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

fn refuse(why: impl Into<String>) -> Invalid {
    Invalid::new("file", why)
}

/// The rows read so far and what they cost; every cell passes through [`Kept::cell`].
struct Kept {
    rows: BTreeMap<u32, Vec<String>>,
    cost: usize,
    max_rows: usize,
}

impl Kept {
    fn new(max_rows: usize) -> Self {
        Kept {
            rows: BTreeMap::new(),
            cost: 0,
            max_rows,
        }
    }

    /// Keeps `text` at (`row`, `column`), both counted from 1 as a person reads them;
    /// empty cells cost nothing.
    fn cell(&mut self, row: u32, column: usize, text: &str) -> Result<(), Invalid> {
        if text.is_empty() {
            return Ok(());
        }
        if column > MAX_COLUMNS {
            return Err(beyond_columns(row));
        }
        if text.len() > MAX_CELL {
            return Err(cell_too_long(row, column));
        }
        let line = match self.rows.get_mut(&row) {
            Some(line) => line,
            None => {
                // The header and one row more than allowed, so the refusal names the rows.
                if self.rows.len() > self.max_rows + 1 {
                    return Err(too_many(self.max_rows));
                }
                self.spend(ROW_COST)?;
                self.rows.entry(row).or_default()
            }
        };
        let grown = column.saturating_sub(line.len());
        let cost = grown * CELL_COST + text.len();
        if line.len() < column {
            line.resize(column, String::new());
        }
        line[column - 1] = text.to_owned();
        self.spend(cost)
    }

    fn spend(&mut self, cost: usize) -> Result<(), Invalid> {
        self.cost += cost;
        if self.cost > MAX_KEPT {
            return Err(refuse(format!(
                "the file holds more than {} MiB of text; split it",
                MAX_KEPT >> 20
            )));
        }
        Ok(())
    }
}

fn beyond_columns(row: u32) -> Invalid {
    refuse(format!(
        "the sheet has a value beyond column {MAX_COLUMNS} (row {row})"
    ))
}

fn cell_too_long(row: u32, column: usize) -> Invalid {
    refuse(format!(
        "the cell in row {row}, column {column} is longer than {MAX_CELL} bytes"
    ))
}

fn csv_rows(bytes: &[u8], kept: &mut Kept) -> Result<(), Invalid> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            let (text, _, bad) = encoding_rs::GB18030.decode(bytes);
            if bad {
                return Err(refuse("the CSV is neither UTF-8 nor GB18030 text"));
            }
            text
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // Field by field, so no record is held whole before its width and cells are checked.
    let mut reader = csv_core::Reader::new();
    let mut field = vec![0u8; MAX_CELL + 1];
    let mut record: Vec<(usize, String)> = Vec::new();
    let (mut at, mut column, mut filled) = (0usize, 0usize, 0usize);
    // The reader skips blank lines without counting them, so a record's line is worked
    // out from where it ends, less the line breaks inside its quoted cells.
    let (mut newlines, mut counted_to) = (0usize, 0usize);
    loop {
        let (result, read, written) =
            reader.read_field(&text.as_bytes()[at..], &mut field[filled..]);
        at += read;
        filled += written;
        match result {
            csv_core::ReadFieldResult::InputEmpty => continue,
            csv_core::ReadFieldResult::End => return Ok(()),
            csv_core::ReadFieldResult::OutputFull => {
                // The reader stopped mid-cell, maybe mid-character: count bytes.
                let row = 1 + newlines + line_breaks(&text.as_bytes()[counted_to..at]);
                return Err(cell_too_long(row as u32, column + 1));
            }
            csv_core::ReadFieldResult::Field { record_end } => {
                column += 1;
                if filled > 0 {
                    let cell = std::str::from_utf8(&field[..filled])
                        .map_err(|_| refuse("the CSV is not valid UTF-8"))?;
                    // Before the record is held whole: a line of a million values is one.
                    if column > MAX_COLUMNS {
                        let row = 1 + newlines + line_breaks(&text.as_bytes()[counted_to..at]);
                        return Err(beyond_columns(row as u32));
                    }
                    record.push((column, cell.to_owned()));
                    filled = 0;
                }
                if !record_end {
                    continue;
                }
                let body = text[counted_to..at].trim_end_matches(['\r', '\n']);
                newlines += body.matches('\n').count();
                let inside: usize = record.iter().map(|(_, c)| c.matches('\n').count()).sum();
                let row = (1 + newlines - inside) as u32;
                for (column, cell) in record.drain(..) {
                    kept.cell(row, column, &cell)?;
                }
                newlines += text[counted_to + body.len()..at].matches('\n').count();
                counted_to = at;
                column = 0;
            }
        }
    }
}

fn line_breaks(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

fn xlsx_rows(bytes: &[u8], kept: &mut Kept) -> Result<(), Invalid> {
    check_unpacked(bytes)?;
    let unreadable =
        |e: &dyn std::fmt::Display| refuse(format!("not a readable XLSX workbook: {e}"));
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let first_sheet = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| refuse("the workbook has no sheet"))?;
    // Cells are streamed, never laid out in the range the sheet declares: a file with
    // one cell at A1 and one at XFD1048576 must cost two cells, not the whole grid. A
    // shared string is measured where it is shared, before a cell copies it.
    let mut cells = workbook
        .worksheet_cells_reader(&first_sheet)
        .map_err(|e| unreadable(&e))?;
    while let Some(cell) = cells.next_cell().map_err(|e| unreadable(&e))? {
        let (row, column) = cell.get_position();
        let (row, column) = (row.saturating_add(1), column as usize + 1);
        kept.cell(row, column, &cell_text(cell.get_value()))?;
    }
    Ok(())
}

/// Unpacks every part of the workbook once without keeping it, to refuse one whose
/// parts expand past the bounds (whatever sizes its directory claims) or whose XML has
/// a run the XML reader would have to buffer whole.
fn check_unpacked(bytes: &[u8]) -> Result<(), Invalid> {
    let unreadable =
        |e: &dyn std::fmt::Display| refuse(format!("not a readable XLSX workbook: {e}"));
    if declared_parts(bytes).is_none_or(|parts| parts > MAX_PARTS) {
        return Err(refuse(format!(
            "not a readable XLSX workbook: more than {MAX_PARTS} parts, or no directory"
        )));
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let (mut unzipped, mut held_whole) = (0u64, 0u64);
    let mut chunk = vec![0u8; 64 << 10];
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).map_err(|e| unreadable(&e))?;
        let name = part.name().map_err(|e| unreadable(&e))?.into_owned();
        let whole = !name.starts_with("xl/worksheets/");
        let xml = name.ends_with(".xml") || name.ends_with(".rels");
        let mut runs = xml.then(XmlRuns::default);
        loop {
            let n = part.read(&mut chunk).map_err(|e| unreadable(&e))?;
            if n == 0 {
                break;
            }
            unzipped += n as u64;
            if whole {
                held_whole += n as u64;
            }
            if unzipped > MAX_UNZIPPED || held_whole > MAX_HELD_WHOLE {
                return Err(refuse(format!(
                    "the workbook unpacks to more than {} MiB ({} MiB of shared strings and styles); split it",
                    MAX_UNZIPPED >> 20,
                    MAX_HELD_WHOLE >> 20
                )));
            }
            if let Some(runs) = &mut runs {
                if !runs.feed(&chunk[..n]) {
                    return Err(refuse(format!(
                        "the workbook's {name} has a tag or text longer than {} KiB",
                        MAX_XML_RUN >> 10
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The number of parts a zip's end-of-directory record declares, read before the
/// directory itself is (whose size grows with that number); `None` for none, or for
/// zip64, which no spreadsheet needs.
fn declared_parts(bytes: &[u8]) -> Option<usize> {
    const END: &[u8; 4] = b"PK\x05\x06";
    // The record is 22 bytes and ends the file, after a comment of at most 64 KiB.
    let from = bytes.len().saturating_sub(22 + usize::from(u16::MAX));
    let at = from + bytes[from..].windows(4).rposition(|w| w == END)?;
    let record = bytes.get(at..at + 22)?;
    let parts = u16::from_le_bytes([record[10], record[11]]);
    (parts != u16::MAX).then_some(usize::from(parts))
}

/// The longest run of an XML text between its `<` and `>`, fed in chunks.
#[derive(Default)]
struct XmlRuns {
    run: usize,
}

impl XmlRuns {
    /// False once a run is longer than [`MAX_XML_RUN`].
    fn feed(&mut self, chunk: &[u8]) -> bool {
        for &byte in chunk {
            if byte == b'<' || byte == b'>' {
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > MAX_XML_RUN {
                    return false;
                }
            }
        }
        true
    }
}

/// A cell as the text a person typed: whole numbers without a decimal point (phones
/// typed as numbers), dates as `YYYY-MM-DD`. Text is borrowed, so a shared string is
/// measured before it is copied.
fn cell_text<'a>(cell: &'a DataRef<'_>) -> Cow<'a, str> {
    match cell {
        DataRef::Empty => Cow::Borrowed(""),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cow::Borrowed(s),
        DataRef::SharedString(s) => Cow::Borrowed(s),
        DataRef::Int(i) => Cow::Owned(i.to_string()),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Cow::Owned(format!("{f:.0}")),
        DataRef::Float(f) => Cow::Owned(f.to_string()),
        DataRef::Bool(b) => Cow::Owned(b.to_string()),
        DataRef::DateTime(d) => Cow::Owned(
            d.as_datetime()
                .map(|d| d.date().to_string())
                .unwrap_or_else(|| d.to_string()),
        ),
        DataRef::Error(e) => Cow::Owned(format!("#{e:?}")),
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

    fn workbook(write: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        write(book.add_worksheet());
        book.save_to_buffer().unwrap()
    }

    fn refusal(format: Format, bytes: &[u8]) -> String {
        read_table(format, bytes, 50_000).unwrap_err().reason
    }

    #[test]
    fn a_shared_string_is_measured_before_any_cell_copies_it() {
        // 400 cells of one 5 KiB string: a small file, refused at the first cell.
        let long = "工".repeat(1700);
        let bytes = workbook(|sheet| {
            sheet.write_string(0, 0, "姓名").unwrap();
            for row in 1..=400 {
                sheet.write_string(row, 0, &long).unwrap();
            }
        });
        assert!(bytes.len() < 16 << 10, "{} bytes", bytes.len());
        let why = refusal(Format::Xlsx, &bytes);
        assert!(why.contains("row 2, column 1 is longer than 4096"), "{why}");
        // Cells each within the bound, shared 12,000 times: refused once the text kept
        // passes the budget, not after.
        let cell = "x".repeat(MAX_CELL);
        let bytes = workbook(|sheet| {
            for row in 0..12_000 {
                sheet.write_string(row, 0, &cell).unwrap();
            }
        });
        let why = refusal(Format::Xlsx, &bytes);
        assert!(why.contains("more than 32 MiB of text"), "{why}");
    }

    #[test]
    fn a_workbook_whose_xml_has_a_huge_run_or_whose_strings_unpack_past_the_bound_is_refused() {
        let bytes = workbook(|sheet| {
            // Excel's longest cell, 32,767 characters, is 96 KiB of Chinese.
            sheet.write_string(0, 0, "工".repeat(30_000)).unwrap();
        });
        let why = refusal(Format::Xlsx, &bytes);
        assert!(why.contains("longer than 64 KiB"), "{why}");
        // 300,000 distinct short strings: over 8 MiB of shared strings to hold whole.
        let bytes = workbook(|sheet| {
            for n in 0..300_000u32 {
                sheet.write_string(n, 0, format!("{n:0>24}")).unwrap();
            }
        });
        let why = refusal(Format::Xlsx, &bytes);
        assert!(why.contains("unpacks to more than"), "{why}");
    }

    #[test]
    fn csv_is_bounded_in_columns_cell_length_and_text_kept() {
        // A line of nothing but commas holds no value: read as empty, not as cells.
        let commas = ",".repeat(4 << 20);
        assert!(refusal(Format::Csv, commas.as_bytes()).contains("no header row"));
        let mut wide = "a".to_owned();
        wide.push_str(&",".repeat(MAX_COLUMNS));
        wide.push('b');
        let why = refusal(Format::Csv, wide.as_bytes());
        assert!(why.contains("beyond column 64 (row 1)"), "{why}");
        let long = format!("姓名\n张三\n{}\n", "z".repeat(MAX_CELL + 1));
        let why = refusal(Format::Csv, long.as_bytes());
        assert!(why.contains("row 3, column 1 is longer than 4096"), "{why}");
        // Cut off mid-character (the fuzzer's first finding): still a clear refusal.
        let long = format!("姓名\n{}\n", "长".repeat(2000));
        let why = refusal(Format::Csv, long.as_bytes());
        assert!(why.contains("row 2, column 1 is longer than 4096"), "{why}");
        // Trailing empty cells cost nothing, as many as there are.
        let trailing = format!("姓名{}\n张三{}\n", ",".repeat(300), ",".repeat(300));
        let table = read_table(Format::Csv, trailing.as_bytes(), 10).unwrap();
        assert_eq!(table.rows, [(2, vec!["张三".to_owned()])]);
        let row = format!("{}\n", "x".repeat(MAX_CELL));
        let many = row.repeat(9_000);
        let why = refusal(Format::Csv, many.as_bytes());
        assert!(why.contains("more than 32 MiB of text"), "{why}");
    }

    #[test]
    fn a_zip_declaring_more_parts_than_a_workbook_has_is_refused_before_its_directory_is_read() {
        let mut bytes = workbook(|sheet| {
            sheet.write_string(0, 0, "姓名").unwrap();
        });
        let end = bytes.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
        bytes[end + 10..end + 12].copy_from_slice(&5000u16.to_le_bytes());
        let why = refusal(Format::Xlsx, &bytes);
        assert!(why.contains("more than 1000 parts"), "{why}");
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
