//! Instance access tokens: 256 bits from the OS, hex; only their SHA-256 is kept
//! (in [`dcs_model::InstanceSpec::token_sha256`]); checks compare in constant time.

use dcs_model::InstanceId;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// A new access token: 32 random bytes, 64 lowercase hex digits.
pub fn generate() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Runtime(format!("no randomness from the OS: {e}")))?;
    Ok(hex(&bytes))
}

/// A new random instance id, `inst-<16 hex>`.
pub fn instance_id() -> Result<InstanceId> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Runtime(format!("no randomness from the OS: {e}")))?;
    Ok(InstanceId::from_random(bytes))
}

/// Hex SHA-256 of `token`: what is stored.
pub fn sha256_hex(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `token` is the one whose hash is `stored_sha256_hex`. Hashes are
/// compared in constant time; anything malformed is simply not a match.
pub fn verify(token: &str, stored_sha256_hex: &str) -> bool {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let given = sha256_hex(&token.to_ascii_lowercase());
    let stored = stored_sha256_hex.to_ascii_lowercase();
    given.len() == stored.len() && bool::from(given.as_bytes().ct_eq(stored.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_hex_and_distinct() {
        let a = generate().expect("token");
        let b = generate().expect("token");
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        let id = instance_id().expect("id");
        assert!(id.as_str().starts_with("inst-") && id.as_str().len() == 21);
    }

    #[test]
    fn only_the_right_token_verifies() {
        let token = generate().expect("token");
        let stored = sha256_hex(&token);
        assert_eq!(stored.len(), 64);
        assert_ne!(stored, token, "the token itself is never stored");
        assert!(verify(&token, &stored));
        assert!(verify(&token.to_ascii_uppercase(), &stored));
        let other = generate().expect("token");
        assert!(!verify(&other, &stored));
        for bad in ["", "x", &token[..63], &format!("{token}0"), &stored] {
            assert!(!verify(bad, &stored) || bad == token, "{bad}");
        }
        assert!(!verify(&token, ""));
        assert!(!verify(&token, "zz"));
    }

    #[test]
    fn the_hash_is_sha256() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
