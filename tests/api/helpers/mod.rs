//! Spawns real nodes on random ports against a fresh database, and speaks to them over
//! real HTTP and real WebSockets. SMS codes are caught by a fake webhook on loopback.

mod cluster;
mod data;
mod infra;
pub mod raw;
mod ws;

pub use cluster::*;
pub use data::*;
pub use infra::*;
pub use ws::*;
