//! `GET` (and `HEAD`) in the file API: directory listings (HTML or JSON), redirects of
//! directories named without their trailing slash, and file downloads: up to
//! [`WHOLE`] bytes read in one piece, larger ones streamed from disk in [`CHUNK`]
//! pieces, never read whole into memory.

use std::path::Path;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio_util::io::ReaderStream;

use super::listing::{self, Listing};
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

/// Files up to this size are read whole in the same trip to a blocking thread that
/// opened them, and sent in one piece.
pub const WHOLE: usize = 64 * 1024;

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
    let shown = rel.display();
    // One trip to a blocking thread resolves, inspects and opens (and reads a small
    // file whole): a trip each cost more than serving a small file itself.
    let found = {
        let (root, rel) = (root.to_path_buf(), rel.clone());
        tokio::task::spawn_blocking(move || find(&root, &rel))
            .await
            .map_err(|e| Error::Task(format!("reading {shown}: {e}")))??
    };
    match found {
        Found::Dir(target) => {
            if !rel.trailing_slash() {
                let name = rel.name().unwrap_or_default();
                return Ok(redirect(&format!("{}/", encode_segment(name)), query));
            }
            let listing = listing::read_dir(&target, &shown).await?;
            Ok(render_listing(rel, &listing, as_json, page))
        }
        Found::Other => Err(Error::Forbidden(format!(
            "{shown} is not a regular file or directory"
        ))),
        Found::File(_) if rel.trailing_slash() => Err(Error::NotFound(format!(
            "{shown} is a file, not a directory"
        ))),
        Found::File(content) => Ok(send_file(content, rel, query.download)),
    }
}

/// What a path names.
enum Found {
    Dir(std::path::PathBuf),
    File(Content),
    Other,
}

/// A file's content: small ones read whole, others opened to be streamed.
enum Content {
    Whole(Bytes),
    Open(std::fs::File, u64),
}

/// Resolves `rel` below `root` and looks at it: on a blocking thread.
fn find(root: &Path, rel: &RelPath) -> Result<Found> {
    let target = path::resolve_existing_blocking(root, rel)?;
    let shown = rel.display();
    let opening = |e| path::path_error(format!("opening {shown}"), &shown, e);
    let meta = std::fs::metadata(&target).map_err(opening)?;
    if meta.is_dir() {
        return Ok(Found::Dir(target));
    }
    if !meta.is_file() {
        return Ok(Found::Other);
    }
    let reading = |e| Error::io(format!("reading {shown}"), e);
    let mut file = std::fs::File::open(&target).map_err(reading)?;
    let len = file.metadata().map_err(reading)?.len();
    if len > WHOLE as u64 {
        return Ok(Found::File(Content::Open(file, len)));
    }
    // Read to the end (the length sent is what was read, should the file have
    // changed since it was measured), bounded: a file grown meanwhile is cut at the
    // bound rather than read whole.
    let mut buf = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut file, WHOLE as u64), &mut buf)
        .map_err(reading)?;
    Ok(Found::File(Content::Whole(Bytes::from(buf))))
}

fn render_listing(
    rel: &RelPath,
    listing: &Listing,
    as_json: bool,
    page: &Page<'_>,
) -> Response<Body> {
    let shown = rel.display();
    if as_json {
        return pages::json(StatusCode::OK, &listing::to_json(&shown, listing));
    }
    let root = notices::root_from(&format!("{}{shown}", super::PREFIX));
    let chrome = Chrome {
        repo: page.repo,
        shown: &shown,
        prefix: "./",
        parent_link: !rel.is_root(),
        notices: Some((page.notices, &root)),
    };
    pages::html(StatusCode::OK, page::render(&chrome, listing))
}

/// A permanent redirect to `location` (relative), keeping the query string; not
/// to be cached (browsers keep a `308` for good, and a folder may become a file).
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
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn send_file(content: Content, rel: &RelPath, download: bool) -> Response<Body> {
    let name = rel.name().unwrap_or_default();
    let (body, len) = match content {
        Content::Whole(bytes) => {
            let len = bytes.len() as u64;
            (body::full(bytes), len)
        }
        Content::Open(file, len) => (stream_file(tokio::fs::File::from_std(file), len), len),
    };
    let mut res = Response::new(body);
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
    res
}

/// A body streaming `file` (`len` bytes long) from its current position to its end
/// in pieces of at most [`CHUNK`].
fn stream_file(file: tokio::fs::File, len: u64) -> Body {
    let capacity = usize::try_from(len).map_or(CHUNK, |len| len.clamp(1, CHUNK));
    let frames = ReaderStream::with_capacity(file, capacity)
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

    #[test]
    fn content_types_are_guessed_from_extensions() {
        assert_eq!(content_type("README.md"), "text/markdown; charset=utf-8");
        assert_eq!(content_type("a.PNG"), "image/png");
        assert_eq!(content_type("Makefile"), "application/octet-stream");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }
}
