//! `dcs-net`: the HTTP plumbing the proxy and the launcher share, each piece written
//! once so each rule about what crosses a hop lives in one place.
//!
//! # Layout
//! - [`hop`]: hop-by-hop headers and upgrade detection.
//! - [`cookies`]: reading and filtering `Cookie` headers.
//! - [`escape`]: HTML escaping.
//! - [`pace`]: progress deadlines for streamed bodies.
//! - [`tunnel`]: carrying an upgraded connection's bytes both ways.

pub mod cookies;
pub mod escape;
pub mod hop;
pub mod pace;
pub mod tunnel;

/// Boxed error for bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
