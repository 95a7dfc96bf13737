//! gonghui: the real-time messaging and sync server of a trade-union platform. The
//! binary's library half: configuration, startup, HTTP routes and WebSocket sessions.
//! The core (domain, store, actors) is the `gonghui-actors` crate; wire types are
//! `gonghui-protocol`.
//!
//! # Layout
//! - [`cli`]: the `serve`, `migrate` and `bootstrap` commands.
//! - [`config`]: settings from flags, `GONGHUI_*` variables and a TOML file.
//! - [`startup`]: [`startup::Application`] — build, serve, shut down.
//! - [`routes`]: HTTP handlers by area; [`openapi`] documents them, [`asyncapi`] the socket.
//! - [`upgrade`]: WebSocket handshakes; [`session`]: the session actor; [`socket`]: its socket.
//! - [`idempotency`]: the `Idempotency-Key` middleware; [`body`]: the body deadline.
//! - [`files`]: spreadsheet uploads (bounded, parsed off the workers) and downloads.
//! - [`webapps`]: the admin console and the member H5 app, embedded, at `/console/` and `/h5/`.
//! - [`extract`], [`api_error`], [`state`]: what handlers share.

pub mod access;
pub mod api_error;
pub mod asyncapi;
pub mod body;
pub mod cli;
pub mod config;
pub mod extract;
pub mod files;
pub mod idempotency;
pub mod lane;
pub mod openapi;
pub mod routes;
pub mod session;
pub mod socket;
pub mod startup;
pub mod state;
pub mod upgrade;
pub mod webapps;
