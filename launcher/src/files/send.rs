//! A file download's response: the whole file (`200`), one range of it (`206`),
//! `304`, `412` or `416` ([`super::range`]), always with the file's validators and
//! `Accept-Ranges`, and with the headers that keep repository content from running
//! as the workspace's own origin. Large files are streamed from disk in [`CHUNK`]
//! pieces, never read whole into memory.

use std::ffi::OsStr;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::header::{
    HeaderMap, HeaderValue, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH,
    CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED,
};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::page::encode_segment;
use super::range::{Answer, Validators};
use crate::body::{self, Body, BoxError};
use crate::pages;

/// Bytes read from disk at once for a download: each read is a trip to a blocking
/// thread, so small reads cap the rate (4 KiB reads topped out near 100 MB/s).
pub const CHUNK: usize = 256 * 1024;

/// A file's content, as much of it as the answer sends.
#[derive(Debug)]
pub enum Content {
    /// Read already (small files).
    Whole(Bytes),
    /// Opened at the first byte to send, with the number of bytes to send.
    Open(std::fs::File, u64),
    /// Nothing to send (`304`, `412`, `416`).
    Nothing,
}

/// A download, decided.
#[derive(Debug)]
pub struct Download {
    /// What is answered.
    pub answer: Answer,
    /// The file's validators.
    pub validators: Validators,
    /// The file's whole length.
    pub len: u64,
    /// What is sent of it.
    pub content: Content,
}

/// How the file is named and asked for.
#[derive(Debug, Clone, Copy)]
pub struct Naming<'a> {
    /// The file's name (its extension gives the content type).
    pub name: &'a OsStr,
    /// The path shown in messages.
    pub shown: &'a str,
    /// `?download`: an attachment.
    pub download: bool,
    /// Messages as JSON.
    pub as_json: bool,
}

/// The response for `d`.
pub fn respond(d: Download, naming: &Naming<'_>) -> Response<Body> {
    let shown = naming.shown;
    let mut res = match d.answer {
        Answer::NotModified => {
            let mut res = Response::new(body::empty());
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            res
        }
        Answer::Changed => pages::message(
            StatusCode::PRECONDITION_FAILED,
            "error",
            &format!("{shown} changed after the time given in If-Unmodified-Since"),
            naming.as_json,
        ),
        Answer::Unsatisfiable => {
            let text = format!(
                "the range asked for is not within {shown}, which is {} bytes long",
                d.len
            );
            let mut res = pages::message(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "error",
                &text,
                naming.as_json,
            );
            put(
                res.headers_mut(),
                CONTENT_RANGE,
                &format!("bytes */{}", d.len),
            );
            res
        }
        Answer::Full | Answer::Part { .. } => content(d.content, naming),
    };
    if let Answer::Part { start, end } = d.answer {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
        let range = format!("bytes {start}-{end}/{}", d.len);
        put(res.headers_mut(), CONTENT_RANGE, &range);
    }
    let headers = res.headers_mut();
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    put(headers, ETAG, &d.validators.etag);
    if let Some(date) = d.validators.last_modified() {
        put(headers, LAST_MODIFIED, &date);
    }
    // Kept, but checked again each time (a 304 when unchanged).
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// The `200`/`206` response carrying `content`.
fn content(content: Content, naming: &Naming<'_>) -> Response<Body> {
    let (body, len) = match content {
        Content::Whole(bytes) => {
            let len = bytes.len() as u64;
            (body::full(bytes), len)
        }
        Content::Open(file, len) => (stream_file(tokio::fs::File::from_std(file), len), len),
        Content::Nothing => (body::empty(), 0),
    };
    let name = naming.name.to_string_lossy();
    let mut res = Response::new(body);
    let headers = res.headers_mut();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(&name)));
    // Repository content is untrusted: never sniffed, and HTML from it renders in a
    // sandbox (a unique origin without scripts), not as the workspace's own origin.
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("sandbox"),
    );
    if naming.download {
        let value = format!(
            "attachment; filename*=UTF-8''{}",
            encode_segment(name.as_bytes())
        );
        put(headers, CONTENT_DISPOSITION, &value);
    }
    res
}

fn put(headers: &mut HeaderMap, name: http::header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// A body streaming `len` bytes of `file` from its current position (fewer if the
/// file ends first) in pieces of at most [`CHUNK`].
pub fn stream_file(file: tokio::fs::File, len: u64) -> Body {
    let capacity = usize::try_from(len).map_or(CHUNK, |len| len.clamp(1, CHUNK));
    let frames = ReaderStream::with_capacity(file.take(len), capacity)
        .map_ok(Frame::data)
        .map_err(BoxError::from);
    StreamBody::new(frames).boxed_unsync()
}

/// A content type guessed from the file name's extension.
pub fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "md" => "text/markdown; charset=utf-8",
        "txt" | "rs" | "py" | "go" | "c" | "h" | "sh" | "toml" | "yaml" | "yml" | "ts" | "java"
        | "rb" | "cfg" | "ini" | "log" | "csv" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn downloads_are_read_in_large_chunks() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("big.bin");
        std::fs::write(&path, vec![1u8; 3 * CHUNK + 7]).expect("write");
        let file = tokio::fs::File::open(&path).await.expect("open");
        let mut body = stream_file(file, (3 * CHUNK + 7) as u64);
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            sizes.push(frame.expect("frame").into_data().expect("data").len());
        }
        assert_eq!(sizes.iter().sum::<usize>(), 3 * CHUNK + 7);
        assert!(sizes.len() <= 8, "{} pieces: {sizes:?}", sizes.len());
        assert!(sizes[0] > 64 * 1024, "first piece {} bytes", sizes[0]);
    }

    #[tokio::test]
    async fn a_range_streams_only_its_bytes() {
        use std::io::{Seek, SeekFrom};
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("big.bin");
        let data: Vec<u8> = (0..(2 * CHUNK as u32 + 99))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).expect("write");
        let mut file = std::fs::File::open(&path).expect("open");
        let (start, n) = (CHUNK as u64 - 5, CHUNK as u64 + 10);
        file.seek(SeekFrom::Start(start)).expect("seek");
        let body = stream_file(tokio::fs::File::from_std(file), n);
        let got = body.collect().await.expect("body").to_bytes();
        assert_eq!(got.len() as u64, n);
        assert!(got[..] == data[start as usize..(start + n) as usize]);
    }

    #[test]
    fn content_types_are_guessed_from_extensions() {
        assert_eq!(content_type("README.md"), "text/markdown; charset=utf-8");
        assert_eq!(content_type("a.PNG"), "image/png");
        assert_eq!(content_type("Makefile"), "application/octet-stream");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }
}
