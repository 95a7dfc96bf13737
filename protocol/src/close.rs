//! The WebSocket close codes a node sends, each named once for the server, its tests and
//! the load tester; what a client does on each is in PROTOCOL.md ("How a client should
//! behave").

/// The token is missing, expired or revoked, or no hello came in time: log in again.
pub const UNAUTHENTICATED: u16 = 4001;
/// The client read too slowly (its queue filled) or sent too much before hello: resume at once with `since`.
pub const TOO_SLOW: u16 = 4008;
/// Too many sockets for the user, or too many frames: reconnect later, with backoff.
pub const TOO_MANY: u16 = 4029;
/// A frame larger than the limit (64 KiB).
pub const TOO_LARGE: u16 = 1009;
/// The node could not serve the hello (its database): reconnect with backoff.
pub const TRY_AGAIN: u16 = 1011;
/// The node is restarting, or a catch-up failed: reconnect at once, to another node if known.
pub const RESTARTING: u16 = 1012;
