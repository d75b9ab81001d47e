//! The headers of the proxy's hop to a launcher: the credential every request
//! carries, and the held readiness answer.

/// The request header carrying the hop credential from the proxy to a launcher.
pub const HOP_HEADER: &str = "x-dcs-hop";
/// Says how long a launcher held `GET /_dcs/ready?wait=<ms>` (until its start moved
/// on, or the wait passed).
pub const READY_WAIT_HEADER: &str = "x-dcs-ready-wait";
/// The longest `wait` a launcher honours on `/_dcs/ready`, milliseconds.
pub const READY_MAX_WAIT_MS: u64 = 10_000;
