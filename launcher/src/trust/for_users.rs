//! The bundle for the workspace's own processes: terminals, the IDE and whatever they
//! start (`curl`, `pip`, `npm`, `git push` over HTTPS) trust what the launcher
//! trusts. At start-up, before any user process exists, [`prepare`] writes the
//! bundle into the config volume (the same file the IDE and transfers use); from then
//! on [`env`] names it in `SSL_CERT_FILE` (OpenSSL, curl, Python's `ssl`,
//! rustls-native-certs), `NODE_EXTRA_CA_CERTS` (Node.js, beside its own roots) and
//! `GIT_SSL_CAINFO` (git, whose libcurl on Debian is GnuTLS's and ignores
//! `SSL_CERT_FILE`) for every user process the launcher starts
//! ([`crate::user_env::added`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::{TrustError, SSL_CERT_FILE};

/// Node's variable for CA certificates added to its own roots.
pub const NODE_EXTRA_CA_CERTS: &str = "NODE_EXTRA_CA_CERTS";
/// git's variable for the CA file its HTTPS transfers verify with.
pub const GIT_SSL_CAINFO: &str = "GIT_SSL_CAINFO";

static WRITTEN: OnceLock<PathBuf> = OnceLock::new();

/// The bundle (`extra`: the operator's `DCS_EXTRA_CA_FILE`) written into
/// `config_dir` ([`super::written`]: made once per process); later user processes get
/// it through [`env`]. Returns its path.
pub async fn prepare(config_dir: PathBuf, extra: Option<PathBuf>) -> Result<PathBuf, TrustError> {
    let file = tokio::task::spawn_blocking(move || {
        super::written(&config_dir, extra.as_deref()).map(|w| w.file.clone())
    })
    .await
    .map_err(|e| TrustError(e.to_string()))??;
    // A second call (a restarted start-up) keeps the first path: it is the same file.
    let _ = WRITTEN.set(file.clone());
    Ok(file)
}

/// The variables naming the bundle, once [`prepare`] wrote it; none before.
pub fn env() -> Vec<(OsString, OsString)> {
    WRITTEN.get().map_or_else(Vec::new, |file| {
        naming(file, std::env::var_os(GIT_SSL_CAINFO).is_some())
    })
}

/// The variables naming `file`. A `GIT_SSL_CAINFO` the user's environment has
/// already (`git_cainfo_set`) is theirs and stays: the bundle holds the image's
/// store and the operator's CA, not a file they chose for git.
fn naming(file: &std::path::Path, git_cainfo_set: bool) -> Vec<(OsString, OsString)> {
    let mut vars: Vec<(OsString, OsString)> = vec![
        (SSL_CERT_FILE.into(), file.into()),
        (NODE_EXTRA_CA_CERTS.into(), file.into()),
    ];
    if !git_cainfo_set {
        vars.push((GIT_SSL_CAINFO.into(), file.into()));
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_gets_the_bundle_unless_the_user_named_a_file_for_it() {
        let file = std::path::Path::new("/config/trust/ca-bundle.pem");
        let names = |vars: Vec<(OsString, OsString)>| -> Vec<OsString> {
            vars.into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(
            names(naming(file, false)),
            [SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, GIT_SSL_CAINFO].map(OsString::from)
        );
        assert_eq!(
            names(naming(file, true)),
            [SSL_CERT_FILE, NODE_EXTRA_CA_CERTS].map(OsString::from)
        );
    }
}
