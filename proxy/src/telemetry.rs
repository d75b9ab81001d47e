//! Logging setup: structured `tracing` output to stderr, as text (colours only
//! when stderr is a terminal, so `kubectl logs` and files get plain lines) or as
//! one JSON object per line (`--log-format json`, for log collectors). Lines made on
//! the runtime's workers reach stderr in batches ([`batch`]): the runtime the binary
//! builds ([`runtime`]) writes them whenever a worker runs out of work. A line that
//! cannot be written (stderr is a file on a full disk) is lost, never a panic.
//! No field's value can end a text line or drive a terminal: control characters are
//! escaped in every one ([`escape`]), as serde escapes them in JSON lines.
//!
//! **Request ids.** Every request gets an id at the edge ([`request_id`]: a fresh
//! random one, or the `X-Request-Id` of a peer listed in `--trusted-proxies`); it is
//! shown on every error page and in every `/api` error, sent back as `X-Request-Id`,
//! and every log line written while the request is served carries it (text:
//! `request{id=…}`, JSON: `"request_id"`; see [`lines`]), so the line with the cause
//! is one search away.

use std::future::Future;
use std::io::IsTerminal;
use std::net::SocketAddr;

use clap::ValueEnum;
use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`.
    Json,
}

/// The subscriber writing to `writer` with `filter` (falls back to `info` if
/// invalid) in `format`; `ansi` colours text lines.
pub fn subscriber<W>(
    filter: &str,
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // A line the writer cannot take (stderr on a full disk) is lost; reported
        // with `eprintln!`, it would panic the thread that logged it.
        .log_internal_errors(false);
    match format {
        // The default field format with every value escaped (no value ends a line
        // or drives a terminal), written cheaply (the access log's fields).
        LogFormat::Text => Box::new(
            builder
                .with_ansi(ansi)
                .fmt_fields(plain_fields::PlainFields)
                .event_format(lines::Text)
                .finish(),
        ),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_ansi(false)
                .event_format(lines::Json::default())
                .finish(),
        ),
    }
}

/// Installs the global subscriber: stderr in batches ([`batch`]), `filter`,
/// `format`; colours only when stderr is a terminal.
pub fn init(filter: &str, format: LogFormat) {
    let ansi = std::io::stderr().is_terminal();
    let stderr = batch::Batched::stderr();
    let installed =
        tracing::subscriber::set_global_default(subscriber(filter, format, ansi, stderr.clone()));
    if installed.is_ok() && format == LogFormat::Text && !ansi {
        // The plain text lines go to `stderr`'s batches: access lines may go directly.
        access::write_directly_to(stderr);
    }
}

/// The multi-threaded runtime the proxy runs on, with the hooks that write each
/// worker's batch of log lines when it runs out of work and when it stops.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(batch::worker_parked)
        .on_thread_stop(batch::flush_thread)
        .build()
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The header a request id travels in (a name, not a `&str`: that would be parsed
/// again at every use, twice per request).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of a request from `peer`: its `X-Request-Id` when `peer` is one of the
/// (non-empty) `trusted` proxies and the value is short and plain, else a fresh one.
pub fn request_id(headers: &HeaderMap, peer: SocketAddr, trusted: &[IpNet]) -> String {
    let peer_ip = peer.ip().to_canonical();
    let from_trusted = !trusted.is_empty() && trusted.iter().any(|n| n.contains(&peer_ip));
    // Looked up only for a trusted peer: anyone else's is never used.
    let given = from_trusted
        .then(|| headers.get(&REQUEST_ID_HEADER))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        });
    match given {
        Some(id) => id.to_owned(),
        None => fresh_id(),
    }
}

/// 16 hex digits: this process's random prefix (drawn once, so replicas do not
/// collide) and a counter (no system call per request).
fn fresh_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        if getrandom::fill(&mut bytes).is_err() {
            // No OS randomness: still unique enough to find a log line.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
            bytes = nanos.to_be_bytes();
        }
        u32::from_be_bytes(bytes)
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // `{prefix:08x}{n:08x}`, without the formatting machinery (every request),
    // written into a buffer and copied once, not pushed a character at a time.
    let id = (u64::from(prefix) << 32) | u64::from(n);
    let mut digits = [0u8; 16];
    for (i, digit) in digits.iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[((id >> ((15 - i) * 4)) & 0xf) as usize];
    }
    // Hex digits are ASCII: never the empty default.
    String::from_utf8(digits.to_vec()).unwrap_or_default()
}

/// Runs `fut` as the request `id`: [`current_request_id`] answers it, and every
/// log line written meanwhile carries it ([`lines`]).
pub fn with_request_id<F: Future>(id: String, fut: F) -> impl Future<Output = F::Output> {
    // Not an async fn: that would hold `fut` twice, as its argument and in the scope.
    REQUEST_ID.scope(id, fut)
}

/// The id of the request being served, if any.
pub fn current_request_id() -> Option<String> {
    with_current_request_id(str::to_owned)
}

/// `f` of the id of the request being served, if any (without copying it).
pub fn with_current_request_id<R>(f: impl FnOnce(&str) -> R) -> Option<R> {
    REQUEST_ID.try_with(|id| f(id)).ok()
}

pub mod access;
pub mod batch;
pub mod escape;
pub mod line_time;
pub mod lines;
pub mod plain_fields;
#[cfg(test)]
mod test_buffer;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_taken_only_from_trusted_proxies_and_only_when_plain() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, "abc-123".parse().expect("value"));
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let proxy: SocketAddr = "10.1.2.3:5".parse().expect("addr");
        let other: SocketAddr = "192.0.2.1:5".parse().expect("addr");
        assert_eq!(request_id(&h, proxy, &trusted), "abc-123");
        assert_ne!(request_id(&h, other, &trusted), "abc-123");
        assert_ne!(
            request_id(&h, proxy, &[]),
            "abc-123",
            "nobody is trusted by default"
        );
        h.insert(REQUEST_ID_HEADER, "a b".parse().expect("value"));
        let fresh = request_id(&h, proxy, &trusted);
        assert_eq!(fresh.len(), 16, "{fresh}");
        // Lower-case hex: this process's random half, then a counter.
        let next = request_id(&h, proxy, &trusted);
        let hex = |id: &str| {
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        assert!(hex(&fresh) && hex(&next), "{fresh} {next}");
        assert_eq!(fresh[..8], next[..8]);
        let counter = |id: &str| u32::from_str_radix(&id[8..], 16).expect("hex");
        assert!(counter(&next) > counter(&fresh), "{fresh} {next}");
    }

    #[tokio::test]
    async fn the_id_is_known_while_the_request_is_served() {
        assert_eq!(current_request_id(), None);
        let seen = with_request_id("r1".into(), async { current_request_id() }).await;
        assert_eq!(seen.as_deref(), Some("r1"));
    }
}
