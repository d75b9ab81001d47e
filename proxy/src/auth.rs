//! Identity is decided once, here, at the edge. Everything after takes `&Identity`,
//! never a header.
//!
//! # Layout
//! - [`Identity`]: who is asking (stable user id, display name, email, groups).
//! - [`Authenticate`]: the seam each auth mode implements.
//! - [`none`]: the single-user loopback mode.

pub mod none;

use std::net::SocketAddr;

use async_trait::async_trait;
use dcs_model::UserId;
use http::request::Parts;

use crate::error::Result;

/// A verified person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The stable key workspaces are owned by.
    pub user: UserId,
    /// The name shown to people.
    pub username: String,
    /// Email, when known.
    pub email: Option<String>,
    /// Group memberships, for access policy.
    pub groups: Vec<String>,
}

/// An auth mode: turns a request into an [`Identity`] or an error.
#[async_trait]
pub trait Authenticate: Send + Sync {
    /// Establishes who sent the request (headers and peer only; the body is untouched).
    async fn authenticate(&self, parts: &Parts, peer: SocketAddr) -> Result<Identity>;
}
