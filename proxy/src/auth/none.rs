//! `--auth none`: every request is the one configured local user. Only allowed when
//! the proxy listens on a loopback address (enforced by config validation), so
//! nobody else can reach it.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use dcs_model::UserId;
use http::request::Parts;

use super::{Authenticate, Identity};
use crate::error::Result;

/// The single-user mode.
#[derive(Debug, Clone)]
pub struct NoAuth {
    identity: Arc<Identity>,
}

impl NoAuth {
    /// Every request becomes `user`.
    pub fn new(user: UserId) -> Self {
        Self {
            identity: Arc::new(Identity::from_user(user)),
        }
    }
}

#[async_trait]
impl Authenticate for NoAuth {
    async fn authenticate(&self, _parts: &Parts, _peer: SocketAddr) -> Result<Arc<Identity>> {
        Ok(Arc::clone(&self.identity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_request_is_the_local_user_whatever_it_claims() {
        let auth = NoAuth::new(UserId::new("alice").expect("user"));
        let (parts, ()) = http::Request::builder()
            .header("X-authentik-uid", "mallory")
            .body(())
            .expect("request")
            .into_parts();
        let id = auth
            .authenticate(&parts, "127.0.0.1:1".parse().expect("addr"))
            .await
            .expect("ok");
        assert_eq!(id.user.as_str(), "alice");
    }
}
