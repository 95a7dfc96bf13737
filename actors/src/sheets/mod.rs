//! Spreadsheets in and out: member lists arrive as CSV or XLSX (批量导入, 批量移出) and
//! rosters leave as either (会员信息导出). Reading turns a file into rows of text and
//! then into checked [`MemberRow`]s; writing streams rows into a file in bounded memory.
//!
//! # Layout
//! - [`read`]: detects the format and reads the first sheet's cells as text, with limits.
//! - [`template`]: the documented columns, the header check, and the per-row check.
//! - [`tree`]: the union-tree template: unions, their parents and their admins.
//! - [`write`]: a CSV or XLSX writer fed row by row, emitting the file in chunks.

pub mod read;
pub mod template;
pub mod tree;
pub mod write;

pub use read::{read_table, Format, Table};
pub use template::{Column, Header, MemberRow, Template};
pub use tree::{TreeLine, TreeRow, UnionColumn};
