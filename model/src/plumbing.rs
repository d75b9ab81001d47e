//! The launcher's plumbing that the proxy speaks too: the paths under `/_dcs/`
//! of a workspace's readiness and idle clock, and the header that marks a page's
//! background requests. One place for both sides of the hop, so a renamed
//! endpoint cannot leave one side asking a path the other no longer answers.
//!
//! The browser's `<workspace>/_dcs/stop` and `<workspace>/_dcs/activity` take the
//! same paths on purpose: the proxy answers the first itself and reads the second
//! on its way to the launcher.

/// `GET`: whether the workspace is ready (`?wait=<ms>` holds the answer until it
/// is, at most that long); Knative's readiness probe too.
pub const READY: &str = "/_dcs/ready";
/// `GET`: the idle clock's report ([`crate::api::IdleReport`]).
pub const IDLE: &str = "/_dcs/idle";
/// `POST`: a person's input in a page ([`crate::api::ActivityBeacon`]).
pub const ACTIVITY: &str = "/_dcs/activity";
/// `POST`: declared work ([`crate::api::KeepaliveRequest`]).
pub const KEEPALIVE: &str = "/_dcs/keepalive";
/// `POST`: a stop was asked for.
pub const STOP: &str = "/_dcs/stop";

/// The header with which a page marks a request no person made (a poll, a
/// refresh): `1`. It never counts as use and never wakes a workspace.
pub const BACKGROUND_HEADER: &str = "x-dcs-background";
