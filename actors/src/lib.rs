//! The core of gonghui: the domain types that validate input, the Postgres store that
//! holds the truth and the event log, login, and the actors that deliver every change to
//! every session on every node.
//!
//! # Layout
//! - [`domain`]: `Phone`, `IdNumber`, `PersonName`, `Permission`, … — parsed at the edge.
//! - [`error`]: the one [`Error`] enum of the core, each variant a kind of client answer.
//! - [`crypto`]: ID-number encryption, blind indexes, token and code hashes.
//! - [`auth`]: SMS codes, password and SMS login, token issue.
//! - [`password`]: argon2id hashing behind a per-node gate, so a login flood costs bounded memory.
//! - [`code`]: an activity's scannable code, PNG or SVG.
//! - [`store`]: one module per aggregate; every write appends its events in its own transaction.
//! - [`sheets`]: CSV and XLSX member lists in (import, removal) and rosters out (export).
//! - [`html`]: sanitising outside HTML (authored and imported news).
//! - [`wechat`]: the WeChat adapter actor, the only code that talks to WeChat.
//! - [`metrics`]: what a node counts for Prometheus, per node.
//! - [`hub`]: the registry, the topic owners (union and member actors), their sequencer and the LISTEN bridge.

pub mod auth;
pub mod code;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod html;
pub mod hub;
pub mod metrics;
pub mod password;
pub mod sheets;
pub mod store;
pub mod wechat;

pub use error::{Error, Result};
