//! What the fuzz targets drive: each function is the path untrusted bytes take through
//! gonghui's parsers, as a route takes them, with the invariants a parse promises checked.

use gonghui_actors::domain::{CreditCode, IdNumber, Invalid, PersonName, Phone};
use gonghui_protocol::{decode, request_id, ClientMsg, Codec, Topic};
use gonghui_actors::sheets::read::{MAX_CELL, MAX_COLUMNS, MAX_KEPT};
use gonghui_actors::sheets::{read_table, Column, Format, Header, MemberRow, Table, TreeLine, UnionColumn};

/// A client's frame, as a session reads it: decoded in the session's codec, a topic it
/// names parsed, and a frame that does not decode searched for its request id.
pub fn client_frame(codec: Codec, data: &[u8]) {
    match decode::<ClientMsg>(codec, data) {
        Ok(ClientMsg::Subscribe { topic, .. } | ClientMsg::Unsubscribe { topic, .. }) => {
            if let Ok(parsed) = topic.parse::<Topic>() {
                assert_eq!(parsed.to_string().parse::<Topic>().ok(), Some(parsed));
            }
        }
        Ok(_) => {}
        Err(_) => {
            let _ = request_id(codec, data);
        }
    }
}

/// The rows a test file may hold (the server's is 50,000; fewer keep each run fast).
const MAX_ROWS: usize = 2_000;

/// Reads a spreadsheet as every upload does, checking the reader's bounds held.
fn bounded_table(format: Format, data: &[u8]) -> Option<Table> {
    let table = read_table(format, data, MAX_ROWS).ok()?;
    assert!(table.rows.len() <= MAX_ROWS, "the row bound held");
    let rows = std::iter::once(&table.header).chain(table.rows.iter().map(|(_, cells)| cells));
    let mut kept = 0;
    for cells in rows {
        assert!(cells.len() <= MAX_COLUMNS, "the column bound held");
        for cell in cells {
            assert!(cell.len() <= MAX_CELL, "the cell bound held");
            kept += cell.len();
        }
    }
    assert!(kept <= MAX_KEPT, "the text kept stayed in the budget");
    Some(table)
}

/// A member list, as `POST /unions/{id}/members/import` reads it.
pub fn roster(format: Format, data: &[u8]) {
    let Some(table) = bounded_table(format, data) else {
        return;
    };
    let Ok(header) = Header::parse(&table.header, &Column::REQUIRED) else {
        return;
    };
    for (line, cells) in &table.rows {
        if let Ok(row) = MemberRow::parse(&header, *line, cells) {
            assert!(
                IdNumber::parse("id", row.id_number.expose()).ok().as_ref() == Some(&row.id_number),
                "a parsed ID number parses again to itself"
            );
        }
    }
}

/// A union tree, as `POST /unions/{id}/tree/import` reads it.
pub fn tree(format: Format, data: &[u8]) {
    let Some(table) = bounded_table(format, data) else {
        return;
    };
    let Ok(header) = Header::parse(&table.header, &UnionColumn::REQUIRED) else {
        return;
    };
    for (line, cells) in &table.rows {
        let read = TreeLine::read(&header, *line, cells);
        assert_eq!(read.row, *line);
    }
}

/// The field parsers of the domain, each given the same text; what parses is checked to
/// be stable (parsing its own output gives it back) and its mask to keep its length.
pub fn fields(text: &str) {
    if let Ok(id) = IdNumber::parse("id_number", text) {
        assert!(IdNumber::parse("id_number", id.expose()).ok() == Some(id.clone()));
        assert_eq!(id.masked().chars().count(), 18);
    }
    if let Ok(code) = CreditCode::parse("credit_code", text) {
        assert_eq!(CreditCode::parse("credit_code", code.as_str()).ok(), Some(code));
    }
    if let Ok(phone) = Phone::parse("phone", text) {
        assert_eq!(Phone::parse("phone", phone.as_str()).ok(), Some(phone.clone()));
        assert_eq!(Phone::masked(phone.as_str()).chars().count(), phone.as_str().chars().count());
    }
    let _ = Phone::masked(text);
    if let Ok(name) = PersonName::parse("name", text) {
        assert!(PersonName::parse("name", name.as_str()).is_ok());
    }
    let _: Result<_, Invalid> = gonghui_actors::domain::note("note", text);
}
