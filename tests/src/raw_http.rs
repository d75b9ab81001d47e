//! Exact-bytes HTTP/1.1 requests: the request is written to a `TcpStream`
//! verbatim, so tests can send paths a URL library would normalise or reject
//! (`/github/..`, raw `%00`, odd headers). Responses are parsed by hand:
//! status line, headers, and a `Content-Length`, chunked or read-to-close body.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a whole exchange may take before [`raw_request`] gives up.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// Status code from the status line, e.g. `404`.
    pub status: u16,
    /// Headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked when it was chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request_bytes` verbatim to `addr` and reads one response.
///
/// Include `Connection: close` in the request: a body without framing is read
/// until the server closes. Interim `1xx` responses (other than `101`) are
/// skipped. Everything must finish within [`RAW_TIMEOUT`].
pub async fn raw_request(addr: SocketAddr, request_bytes: &[u8]) -> anyhow::Result<RawResponse> {
    let head_request = request_bytes.starts_with(b"HEAD ");
    tokio::time::timeout(RAW_TIMEOUT, exchange(addr, request_bytes, head_request))
        .await
        .with_context(|| format!("raw request to {addr} timed out after {RAW_TIMEOUT:?}"))?
}

/// `GET <path>` with `Host` and `Connection: close`; `path` is sent verbatim.
pub async fn raw_get(addr: SocketAddr, path: &str) -> anyhow::Result<RawResponse> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    raw_request(addr, request.as_bytes()).await
}

/// Connects, writes, and reads until a full response has arrived.
async fn exchange(
    addr: SocketAddr,
    request_bytes: &[u8],
    head_request: bool,
) -> anyhow::Result<RawResponse> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.write_all(request_bytes).await?;
    stream.flush().await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        let eof = n == 0;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(resp) = parse(&mut buf, eof, head_request)? {
            return Ok(resp);
        }
        if eof {
            bail!(
                "connection closed before a full response arrived ({} bytes: {:?})",
                buf.len(),
                String::from_utf8_lossy(&buf)
            );
        }
    }
}

/// Parses one response from `buf`; `Ok(None)` means more bytes are needed.
/// Interim `1xx` responses are removed from `buf` and skipped.
fn parse(buf: &mut Vec<u8>, eof: bool, head_request: bool) -> anyhow::Result<Option<RawResponse>> {
    loop {
        let Some(head_end) = find(buf, b"\r\n\r\n") else {
            return Ok(None);
        };
        let head = std::str::from_utf8(&buf[..head_end]).context("response head is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = parse_status(status_line)?;
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .with_context(|| format!("malformed header line {line:?}"))?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let body_start = head_end + 4;
        if (100..200).contains(&status) && status != 101 {
            buf.drain(..body_start);
            continue;
        }
        let mut resp = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        let rest = &buf[body_start..];
        if head_request || status == 204 || status == 304 || status == 101 {
            return Ok(Some(resp));
        }
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            return Ok(dechunk(rest)?.map(|body| {
                resp.body = body;
                resp
            }));
        }
        if let Some(len) = resp.header("content-length") {
            let len: usize = len
                .parse()
                .with_context(|| format!("bad Content-Length {len:?}"))?;
            if rest.len() < len {
                return Ok(None);
            }
            resp.body = rest[..len].to_vec();
            return Ok(Some(resp));
        }
        if !eof {
            return Ok(None);
        }
        resp.body = rest.to_vec();
        return Ok(Some(resp));
    }
}

/// `HTTP/1.1 404 Not Found` → `404`.
fn parse_status(line: &str) -> anyhow::Result<u16> {
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/") {
        bail!("not an HTTP status line: {line:?}");
    }
    parts
        .next()
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))
}

/// Decodes a chunked body; `Ok(None)` when it is not complete yet.
/// Trailers are read and discarded.
fn dechunk(mut data: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let size_line = std::str::from_utf8(&data[..line_end]).context("chunk size not UTF-8")?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .with_context(|| format!("bad chunk size line {size_line:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailer section: header lines, then an empty line.
            loop {
                let Some(end) = find(data, b"\r\n") else {
                    return Ok(None);
                };
                if end == 0 {
                    return Ok(Some(body));
                }
                data = &data[end + 2..];
            }
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        if &data[size..size + 2] != b"\r\n" {
            bail!("chunk of {size} bytes not followed by CRLF");
        }
        data = &data[size + 2..];
    }
}

/// Index of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks_with_extensions_and_trailers() {
        let data = b"5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nX-T: 1\r\n\r\n";
        let body = dechunk(data).expect("valid").expect("complete");
        assert_eq!(body, b"hello, world");
        assert_eq!(dechunk(b"5\r\nhel").expect("valid"), None);
    }

    #[test]
    fn skips_interim_responses_and_honours_content_length() {
        let mut buf =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"
                .to_vec();
        let resp = parse(&mut buf, false, false)
            .expect("valid")
            .expect("complete");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"ok");
    }

    #[test]
    fn unframed_body_needs_eof() {
        let mut buf = b"HTTP/1.0 200 OK\r\n\r\nabc".to_vec();
        assert_eq!(parse(&mut buf, false, false).expect("valid"), None);
        let resp = parse(&mut buf, true, false)
            .expect("valid")
            .expect("complete");
        assert_eq!(resp.body, b"abc");
    }
}
