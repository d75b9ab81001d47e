//! The one set of roots every TLS connection of the launcher verifies against:
//! clones and fetches (libgit2 over OpenSSL, in the transfer child) and IDE downloads
//! (`ureq` over rustls) alike. A [`Bundle`] is, without duplicates:
//!
//! 1. Mozilla's root certificates, carried in the binary (`webpki-root-certs`), so an
//!    image without CA certificates (`debian:bookworm-slim`, `ubuntu:24.04`) still
//!    clones from GitHub;
//! 2. the image's own store when it has one (`$SSL_CERT_FILE`, else the first of
//!    [`IMAGE_STORES`]), so a CA baked into the image is trusted too;
//! 3. the operator's `DCS_EXTRA_CA_FILE` (Knative: a Secret or ConfigMap mounted
//!    read-only), so private git servers and IDE mirrors with their own CA work. A
//!    file that holds no certificate, or one that does not parse, is an error naming
//!    the file: silently trusting less than asked would only fail later, unclearly.
//!
//! rustls takes the certificates from [`Bundle::tls_config`]. libgit2 gets them
//! through OpenSSL's default verify paths, which honour `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` in the transfer child's environment ([`openssl_env`]), in the system
//! OpenSSL as in the static launcher's vendored one: as one PEM file,
//! [`Bundle::write`] into `<config>/trust/ca-bundle.pem` (named by `SSL_CERT_DIR` too,
//! so no folder lookup finds anything else), or, once
//! it is there, as a hashed folder that OpenSSL reads only as far as a verification
//! needs ([`folder`]); a first transfer that should not need TLS gets no roots at all
//! ([`openssl_env_without_roots`]) and is started again with them if it does. git2's
//! in-process setter (`opts::set_ssl_cert_file`) is an `unsafe fn`, and the workspace
//! forbids unsafe code; each transfer runs in its own process anyway. Only
//! certificates reach the bundle: anything else in a PEM file (a private key put there
//! by mistake) is left out.
//!
//! [`for_users`]: the same bundle for the workspace's own processes.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;

/// CA bundles of common images, in the order they are looked for: Debian, Ubuntu,
/// Alpine, Arch, Gentoo; Fedora, RHEL, CentOS, Amazon Linux; RHEL's extracted
/// store; openSUSE, SLES; Alpine's and the BSD-style `cert.pem`.
pub const IMAGE_STORES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The bundle's folder inside the config volume.
pub const DIR: &str = "trust";
/// The bundle's file name inside [`DIR`].
pub const FILE: &str = "ca-bundle.pem";
/// OpenSSL's variable naming a PEM file of trusted certificates.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// OpenSSL's variable naming a folder of hashed trusted certificates.
pub const SSL_CERT_DIR: &str = "SSL_CERT_DIR";

/// A trust source that cannot be used, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrustError(pub String);

/// How many certificates each source gave (after removing duplicates), for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Mozilla's roots carried in the binary.
    pub mozilla: usize,
    /// The image's store.
    pub image: usize,
    /// The image's store that was read, if any.
    pub image_store: Option<PathBuf>,
    /// `DCS_EXTRA_CA_FILE`.
    pub extra: usize,
}

/// The roots, as DER certificates in a stable order.
#[derive(Debug, Clone)]
pub struct Bundle {
    certs: Vec<Vec<u8>>,
    counts: Counts,
}

impl Bundle {
    /// Mozilla's roots, this system's store (`$SSL_CERT_FILE` or the first of
    /// [`IMAGE_STORES`] that exists) and `extra`.
    pub fn build(extra: Option<&Path>) -> Result<Self, TrustError> {
        let from_env = std::env::var_os(SSL_CERT_FILE).map(PathBuf::from);
        let stores: Vec<PathBuf> = from_env
            .into_iter()
            .chain(IMAGE_STORES.iter().map(PathBuf::from))
            .collect();
        Self::from_sources(extra, &stores)
    }

    /// Mozilla's roots, the first of `stores` that can be read, and `extra`.
    pub fn from_sources(extra: Option<&Path>, stores: &[PathBuf]) -> Result<Self, TrustError> {
        let mut bundle = Self {
            certs: Vec::new(),
            counts: Counts::default(),
        };
        let mut seen = HashSet::new();
        let mut add = |der: &[u8], certs: &mut Vec<Vec<u8>>| {
            let new = seen.insert(der.to_vec());
            if new {
                certs.push(der.to_vec());
            }
            new
        };
        for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            if add(der.as_ref(), &mut bundle.certs) {
                bundle.counts.mozilla += 1;
            }
        }
        // The image's store is the image's business: an unreadable one is skipped.
        if let Some((path, ders)) = stores
            .iter()
            .find_map(|p| Some((p, pem_certificates(&std::fs::read(p).ok()?).ok()?)))
        {
            bundle.counts.image_store = Some(path.clone());
            for der in &ders {
                if add(der, &mut bundle.certs) {
                    bundle.counts.image += 1;
                }
            }
        }
        if let Some(file) = extra {
            for der in extra_certificates(file)? {
                if add(&der, &mut bundle.certs) {
                    bundle.counts.extra += 1;
                }
            }
        }
        Ok(bundle)
    }

    /// Where the certificates came from.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The number of certificates.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether there is none (never: Mozilla's roots are always there).
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The certificates, DER-encoded.
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certs
    }

    /// Every certificate as PEM, one after the other (what OpenSSL reads).
    pub fn pem(&self) -> String {
        let mut out = String::with_capacity(self.certs.len() * 2048);
        for der in &self.certs {
            pem_encode(der, &mut out);
        }
        out
    }

    /// Writes the PEM to `<config_dir>/trust/ca-bundle.pem` (atomically, and only
    /// when it changed; not synced to the disk: every start writes it again if it
    /// differs, see `dcs_os::atomic`) and returns its path.
    pub fn write(&self, config_dir: &Path) -> Result<PathBuf, TrustError> {
        let dir = config_dir.join(DIR);
        let file = dir.join(FILE);
        let pem = self.pem();
        if std::fs::read(&file).is_ok_and(|old| old == pem.as_bytes()) {
            return Ok(file);
        }
        std::fs::create_dir_all(&dir)
            .and_then(|()| dcs_os::atomic::replace_atomic(&file, pem.as_bytes()))
            .map_err(|e| {
                TrustError(format!(
                    "writing the trusted certificates to {}: {e}",
                    file.display()
                ))
            })?;
        Ok(file)
    }

    /// A `ureq` TLS configuration (rustls, ring) trusting exactly these roots.
    pub fn tls_config(&self) -> ureq::tls::TlsConfig {
        let roots: Vec<ureq::tls::Certificate<'static>> = self
            .certs
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
            .collect();
        ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
            .build()
    }
}

/// A bundle built and written into a config volume ([`written`]).
#[derive(Debug)]
pub struct Written {
    /// The roots.
    pub bundle: Bundle,
    /// Where the PEM was written.
    pub file: PathBuf,
    /// The bundle as OpenSSL's hashed folder, when a complete one was there already
    /// (see [`folder`]).
    pub folder: Option<folder::Folder>,
}

/// What [`written`] made, by config volume and `extra` (one of each in a launcher).
type Made = std::collections::HashMap<(PathBuf, Option<PathBuf>), Arc<Written>>;

static MADE: std::sync::LazyLock<std::sync::Mutex<Made>> =
    std::sync::LazyLock::new(Default::default);

/// The bundle of `extra` written into `config_dir`, made once per launcher process
/// and shared by the transfers, the IDE and the workspace's processes (each of them
/// used to build and write it again, a few milliseconds of every start); the IDE's
/// installer, which needs no file, builds its own when it downloads. With it, the
/// volume's hashed folder if a complete one is there ([`folder::ready`]). A failure
/// is not kept: the next call tries again. A change of the operator's extra CA file
/// reaches the workspace at its next start.
pub fn written(config_dir: &Path, extra: Option<&Path>) -> Result<Arc<Written>, TrustError> {
    let key = (config_dir.to_path_buf(), extra.map(Path::to_path_buf));
    let mut made = MADE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(w) = made.get(&key) {
        return Ok(w.clone());
    }
    let bundle = Bundle::build(extra)?;
    let file = bundle.write(config_dir)?;
    let folder = folder::ready(&bundle, &config_dir.join(DIR));
    let w = Arc::new(Written {
        bundle,
        file,
        folder,
    });
    made.insert(key, w.clone());
    Ok(w)
}

/// Starts [`written`] for `config_dir` and `extra` on a thread of its own, at the
/// launcher's start: the first transfer and the IDE wait for the bundle, and
/// building and writing it (5–15 ms) then overlaps the start of the process itself
/// (its runtime, its listener). What it made is kept; a failure is met again, and
/// reported, by the first that needs the bundle.
pub fn write_early(config_dir: PathBuf, extra: Option<PathBuf>) {
    let started = std::thread::Builder::new()
        .name("trust-early".into())
        .spawn(move || drop(written(&config_dir, extra.as_deref())));
    // A thread that cannot start leaves the work to the first use.
    drop(started);
}

/// Makes the hashed folder ([`folder`]) of the bundle [`written`] for `config_dir`
/// and `extra` if the volume has none yet: for the next start's transfers (this
/// one's read the file). Called once the workspace is ready, so writing its files
/// never competes with the start's own; a failure only leaves transfers reading
/// the file.
pub fn make_folder_for_next_start(config_dir: &Path, extra: Option<&Path>) {
    let Ok(w) = written(config_dir, extra) else {
        return;
    };
    if w.folder.is_none() {
        match folder::make(&w.bundle, &config_dir.join(DIR)) {
            Ok(f) => {
                tracing::info!(folder = %f.dir.display(), "certificate folder made for the next start")
            }
            Err(e) => tracing::warn!(error = %e, "no certificate folder; transfers read the file"),
        }
    }
}

/// The variables that make OpenSSL (libgit2's TLS) trust exactly the bundle
/// `written`: its hashed folder as `SSL_CERT_DIR` and an empty `SSL_CERT_FILE` when
/// there is a complete one ([`folder`]), else the PEM file as both. Either way
/// OpenSSL's default locations are not used, and a folder lookup never reaches a file
/// nobody checked: the volume is the user's, and `<trust>/<hash>.0` put there by
/// hand would be trusted if `SSL_CERT_DIR` named `<trust>`. Under a file
/// (`ca-bundle.pem/<hash>.0`) nothing is ever found; the variable has to name a path
/// that exists, or git2's start-up (`openssl-probe`) puts the system's folder there.
pub fn openssl_env(written: &Written) -> Vec<(OsString, OsString)> {
    let (file, dir) = match &written.folder {
        Some(f) => (f.empty.as_path(), f.dir.as_path()),
        None => (written.file.as_path(), written.file.as_path()),
    };
    vec![
        (SSL_CERT_FILE.into(), file.as_os_str().to_owned()),
        (SSL_CERT_DIR.into(), dir.as_os_str().to_owned()),
    ]
}

/// The variables that make OpenSSL trust nothing and read no certificate when
/// libgit2 starts: the empty file ([`folder::empty_file`], beside `written`'s) as
/// `SSL_CERT_FILE` and `SSL_CERT_DIR` both (see [`openssl_env`]). For a transfer
/// that should not need TLS at all (see
/// [`crate::checkout::child::transfer_program`]): it saves reading the bundle file,
/// ~20 ms of every first open.
pub fn openssl_env_without_roots(
    written: &Written,
) -> Result<Vec<(OsString, OsString)>, TrustError> {
    let empty = folder::empty_file(written.file.parent().unwrap_or(&written.file))?;
    Ok(vec![
        (SSL_CERT_FILE.into(), empty.clone().into_os_string()),
        (SSL_CERT_DIR.into(), empty.into_os_string()),
    ])
}

/// The certificates of a PEM file's bytes (other sections skipped).
fn pem_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(bytes) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => out.push(cert.der().to_vec()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(out)
}

/// `DCS_EXTRA_CA_FILE`'s certificates: at least one, each an X.509 certificate.
fn extra_certificates(file: &Path) -> Result<Vec<Vec<u8>>, TrustError> {
    let fail = |why: String| {
        TrustError(format!(
            "{}={}: {why}",
            dcs_model::env::DCS_EXTRA_CA_FILE,
            file.display()
        ))
    };
    let bytes = std::fs::read(file).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let ders = pem_certificates(&bytes).map_err(|e| fail(format!("is not valid PEM: {e}")))?;
    if ders.is_empty() {
        return Err(fail(
            "holds no certificate (expected PEM blocks \"-----BEGIN CERTIFICATE-----\")".into(),
        ));
    }
    for (n, der) in ders.iter().enumerate() {
        let mut store = rustls::RootCertStore::empty();
        store
            .add(rustls::pki_types::CertificateDer::from(der.as_slice()))
            .map_err(|e| fail(format!("certificate {} is not usable: {e}", n + 1)))?;
    }
    Ok(ders)
}

/// Appends `der` as a PEM `CERTIFICATE` block (64-column base64).
fn pem_encode(der: &[u8], out: &mut String) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
}

pub mod folder;
pub mod for_users;
pub mod subject_hash;
#[cfg(test)]
pub(crate) mod test_ca;

#[cfg(test)]
mod tests;
