//! `GET` (and `HEAD`) in the file API: directory listings (HTML or JSON), redirects of
//! directories named without their trailing slash, and file downloads streamed from
//! disk in [`CHUNK`] pieces, never read whole into memory.

use std::path::Path;

use futures_util::TryStreamExt;
use http::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio_util::io::ReaderStream;

use super::listing::{self, Entry};
use super::page::{self, encode_segment, Chrome};
use super::path::{self, RelPath};
use super::Query;
use crate::body::{self, Body, BoxError};
use crate::error::{Error, Result};
use crate::notices::{self, Notice};
use crate::pages;

/// Bytes read from disk at once for a download: each read is a trip to a blocking
/// thread, so small reads cap the rate (4 KiB reads topped out near 100 MB/s).
pub const CHUNK: usize = 256 * 1024;

/// What a listing page shows besides the entries.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// `owner/repo` (or the instance id), for the title.
    pub repo: &'a str,
    /// The workspace's notices, shown as a banner.
    pub notices: &'a [Notice],
}

/// Answers a `GET` for `rel` below `root` (canonical); listings are JSON when
/// `as_json`.
pub async fn get(
    root: &Path,
    rel: &RelPath,
    query: &Query,
    as_json: bool,
    page: &Page<'_>,
) -> Result<Response<Body>> {
    let target = path::resolve_existing(root, rel).await?;
    let shown = rel.display();
    let meta = tokio::fs::metadata(&target)
        .await
        .map_err(|e| path::path_error(format!("opening {shown}"), &shown, e))?;
    if meta.is_dir() {
        if !rel.trailing_slash() {
            let name = rel.name().unwrap_or_default();
            return Ok(redirect(&format!("{}/", encode_segment(name)), query));
        }
        let entries = listing::read_dir(&target, &shown).await?;
        return Ok(render_listing(rel, &entries, as_json, page));
    }
    if !meta.is_file() {
        return Err(Error::Forbidden(format!(
            "{shown} is not a regular file or directory"
        )));
    }
    if rel.trailing_slash() {
        return Err(Error::NotFound(format!(
            "{shown} is a file, not a directory"
        )));
    }
    send_file(&target, rel, query.download).await
}

fn render_listing(
    rel: &RelPath,
    entries: &[Entry],
    as_json: bool,
    page: &Page<'_>,
) -> Response<Body> {
    let shown = rel.display();
    if as_json {
        return pages::json(StatusCode::OK, &listing::to_json(&shown, entries));
    }
    let root = notices::root_from(&format!("{}{shown}", super::PREFIX));
    let chrome = Chrome {
        repo: page.repo,
        shown: &shown,
        prefix: "./",
        parent_link: !rel.is_root(),
        notices: Some((page.notices, &root)),
    };
    pages::html(StatusCode::OK, page::render(&chrome, entries))
}

/// A permanent redirect to `location` (relative), keeping the query string.
pub fn redirect(location: &str, query: &Query) -> Response<Body> {
    let location = match &query.raw {
        Some(q) => format!("{location}?{q}"),
        None => location.to_owned(),
    };
    let mut res = Response::new(body::empty());
    *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(value) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(LOCATION, value);
    }
    res
}

async fn send_file(target: &Path, rel: &RelPath, download: bool) -> Result<Response<Body>> {
    let shown = rel.display();
    let io = |e| Error::io(format!("reading {shown}"), e);
    let file = tokio::fs::File::open(target).await.map_err(io)?;
    let len = file.metadata().await.map_err(io)?.len();
    let name = rel.name().unwrap_or_default();
    let mut res = Response::new(stream_file(file));
    let headers = res.headers_mut();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
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
    if download {
        let value = format!("attachment; filename*=UTF-8''{}", encode_segment(name));
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(CONTENT_DISPOSITION, value);
        }
    }
    Ok(res)
}

/// A body streaming `file` from its current position to its end in [`CHUNK`] pieces.
fn stream_file(file: tokio::fs::File) -> Body {
    let frames = ReaderStream::with_capacity(file, CHUNK)
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
        let mut body = stream_file(file);
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            sizes.push(frame.expect("frame").into_data().expect("data").len());
        }
        assert_eq!(sizes.iter().sum::<usize>(), 3 * CHUNK + 7);
        assert!(sizes.len() <= 8, "{} pieces: {sizes:?}", sizes.len());
        assert!(sizes[0] > 64 * 1024, "first piece {} bytes", sizes[0]);
    }

    #[test]
    fn content_types_are_guessed_from_extensions() {
        assert_eq!(content_type("README.md"), "text/markdown; charset=utf-8");
        assert_eq!(content_type("a.PNG"), "image/png");
        assert_eq!(content_type("Makefile"), "application/octet-stream");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }
}
