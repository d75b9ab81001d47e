//! What a user's volume lacks of what an instance asks for.
//!
//! A user's workspace volume is made once, sized by the first workspace that
//! asked (or the configured size); a later instance asking for more does not
//! resize it (a PVC's size can only grow, and only where its storage class
//! allows expansion). The API tells the caller instead of silently ignoring the
//! figure: [`storage_shortfall`] compares the volume's capacity (from
//! [`crate::runtime::Runtime::volume`]) with the request, and
//! [`KnativeRuntime::storage_warning`] does both.

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
            "storage {asked} was not applied: your workspace volume already exists with {have}, \
             and an existing volume is not resized; all your workspaces share it"
        )
    })
}

impl KnativeRuntime {
    /// A warning for the API's answer when `user`'s existing volume is smaller
    /// than `asked` (call it after `register`, which makes a new user's volume
    /// with the size asked for).
    pub async fn storage_warning(&self, user: &UserId, asked: &Quantity) -> Result<Option<String>> {
        let volume = self.volume_of(user).await?;
        Ok(storage_shortfall(volume.capacity.as_deref(), asked))
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
