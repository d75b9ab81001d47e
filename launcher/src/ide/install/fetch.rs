//! Downloads with `ureq` (blocking; run on a blocking thread) verifying TLS with the
//! launcher's [`Bundle`] (the roots git uses too): retries with backoff on network
//! errors and 5xx, progress in the log, SHA-256 computed while the bytes go to disk,
//! and the `<url>.sha256` an upstream may publish beside an archive. An untrusted
//! certificate is not retried: it says how to trust a private CA.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::trust::Bundle;

/// Attempts per download.
const ATTEMPTS: u32 = 4;

/// A failed download, in words for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(String);

/// The HTTP client of every download: `roots` and nothing else are trusted.
pub fn agent(roots: &Bundle) -> ureq::Agent {
    ureq::Agent::config_builder()
        .tls_config(roots.tls_config())
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(600)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Downloads `url` to `to` with `agent`; returns the content's SHA-256 (lower-case hex).
pub fn download(agent: &ureq::Agent, url: &str, to: &Path) -> Result<String, FetchError> {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match once(agent, url, to) {
            Ok(digest) => return Ok(digest),
            Err(Failure::Permanent(why)) => return Err(FetchError(why)),
            Err(Failure::Retry(why)) => {
                let delay = Duration::from_millis(500 * 2u64.pow(attempt - 1));
                warn!(%url, attempt, error = %why, "download failed; retrying");
                last = why;
                if attempt < ATTEMPTS {
                    std::thread::sleep(delay);
                }
            }
        }
    }
    Err(FetchError(format!(
        "downloading {url} failed {ATTEMPTS} times: {last}"
    )))
}

enum Failure {
    Permanent(String),
    Retry(String),
}

fn once(agent: &ureq::Agent, url: &str, to: &Path) -> Result<String, Failure> {
    let resp = agent.get(url).call().map_err(|e| failure(url, &e))?;
    let status = resp.status().as_u16();
    if status >= 500 || status == 429 {
        return Err(Failure::Retry(format!("{url} answered {status}")));
    }
    if status != 200 {
        return Err(Failure::Permanent(format!(
            "{url} answered {status} (is the version right? set DCS_IDE_VERSION)"
        )));
    }
    let total: Option<u64> = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let mut body = resp.into_body();
    let mut reader = body.as_reader();
    let mut file = std::fs::File::create(to)
        .map_err(|e| Failure::Permanent(format!("{}: {e}", to.display())))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut done, mut logged, started) = (0u64, Instant::now(), Instant::now());
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| Failure::Retry(format!("{url}: {e}")))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| Failure::Permanent(format!("{}: {e}", to.display())))?;
        done += n as u64;
        if logged.elapsed() >= Duration::from_secs(3) {
            logged = Instant::now();
            let percent = total.map(|t| done * 100 / t.max(1));
            info!(%url, bytes = done, total, percent, "downloading");
        }
    }
    if total.is_some_and(|t| t != done) {
        return Err(Failure::Retry(format!(
            "{url}: the transfer ended early ({done} bytes)"
        )));
    }
    file.sync_all()
        .map_err(|e| Failure::Permanent(e.to_string()))?;
    info!(%url, bytes = done, secs = started.elapsed().as_secs(), "downloaded");
    Ok(hex(&hash.finalize()))
}

/// Why a request failed: an untrusted certificate is permanent (and says how to
/// trust a private CA), anything else is worth another attempt.
fn failure(url: &str, error: &ureq::Error) -> Failure {
    // rustls reports it directly or inside the I/O error of the handshake.
    let rustls = match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match rustls {
        Some(rustls::Error::InvalidCertificate(why)) => Failure::Permanent(format!(
            "{url}: the server's certificate is not trusted ({why:?}); if it is signed by a \
             private CA, give that CA's certificate in {}",
            dcs_model::env::DCS_EXTRA_CA_FILE
        )),
        _ => Failure::Retry(format!("{url}: {error}")),
    }
}

/// The SHA-256 published at `<url>.sha256`, if there is one (404 means none).
pub fn published_sha256(agent: &ureq::Agent, url: &str) -> Result<Option<String>, FetchError> {
    let sums = format!("{url}.sha256");
    let resp = agent
        .get(&sums)
        .call()
        .map_err(|e| match failure(&sums, &e) {
            Failure::Permanent(why) | Failure::Retry(why) => FetchError(why),
        })?;
    match resp.status().as_u16() {
        200 => {}
        404 | 403 => return Ok(None),
        other => return Err(FetchError(format!("{sums} answered {other}"))),
    }
    let text = resp
        .into_body()
        .read_to_string()
        .map_err(|e| FetchError(format!("{sums}: {e}")))?;
    parse_sha256(&text)
        .map(Some)
        .ok_or_else(|| FetchError(format!("{sums} holds no SHA-256")))
}

/// The first 64-hex-digit word of a `sha256sum`-style file, lower-cased.
pub fn parse_sha256(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    (word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| word.to_ascii_lowercase())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
