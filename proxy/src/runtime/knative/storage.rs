//! What a user's volume lacks of what an instance asks for, and growing it.
//!
//! A user's workspace volume is made once, sized by the first workspace that
//! asked (or the configured size). A later instance asking for more grows it
//! where its storage class allows expansion (`allowVolumeExpansion`: the API
//! server accepts the larger request, the storage provider resizes it); where it
//! does not, the API tells the caller instead of silently ignoring the figure.
//! [`storage_shortfall`] compares the volume's size with the request;
//! [`KnativeRuntime::grow_volume`] asks for more and says what happened.

use dcs_model::names::user_volume_name;
use dcs_model::{Quantity, UserId};

use super::KnativeRuntime;
use crate::error::Result;

/// A warning when a volume of `capacity` is smaller than `asked`; `None` when it
/// is large enough, or its size is unknown (not made yet: it will be made with
/// the size asked for).
pub fn storage_shortfall(capacity: Option<&str>, asked: &Quantity) -> Option<String> {
    let have = Quantity::parse(capacity?).ok()?;
    (have.value() < asked.value()).then(|| {
        format!(
            "storage {asked} was not applied: your workspace volume (shared by all your \
             workspaces) already exists with {have}"
        )
    })
}

impl KnativeRuntime {
    /// Grows `user`'s existing volume to `asked` when it is smaller (call it after
    /// `register`, which makes a new user's volume with the size asked for). `None`
    /// when it is large enough or was grown; a warning for the API's answer when
    /// its storage class does not allow it.
    pub async fn grow_volume(&self, user: &UserId, asked: &Quantity) -> Result<Option<String>> {
        let volume = self.volume_of(user).await?;
        let Some(short) = storage_shortfall(volume.capacity.as_deref(), asked) else {
            return Ok(None);
        };
        let name = user_volume_name(user).to_string();
        let answer = self.api.expand_pvc(&name, asked.as_str()).await;
        match answer.map_err(super::error::KnativeError::from)? {
            Ok(()) => {
                tracing::info!(volume = %name, storage = %asked, "volume expansion asked for");
                Ok(None)
            }
            Err(why) => {
                tracing::info!(volume = %name, %why, "volume expansion refused");
                Ok(Some(format!(
                    "{short}: its storage class does not allow expansion \
                     (allowVolumeExpansion); ask your cluster's operator"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).expect("quantity")
    }

    #[test]
    fn only_a_smaller_existing_volume_is_reported() {
        let warning = storage_shortfall(Some("20Gi"), &q("50Gi")).expect("a warning");
        assert!(
            warning.contains("50Gi") && warning.contains("20Gi"),
            "{warning}"
        );
        assert_eq!(storage_shortfall(Some("20Gi"), &q("20Gi")), None);
        assert_eq!(storage_shortfall(Some("20Gi"), &q("10G")), None);
        assert_eq!(storage_shortfall(Some("1Ti"), &q("200Gi")), None);
        assert_eq!(storage_shortfall(None, &q("50Gi")), None, "no volume yet");
        assert_eq!(storage_shortfall(Some("garbage"), &q("50Gi")), None);
    }
}
