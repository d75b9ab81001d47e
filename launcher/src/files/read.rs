//! `GET` (and `HEAD`) in the file API: directory listings (HTML or JSON), redirects of
//! directories named without their trailing slash, and file downloads: the request's
//! conditions and range decided ([`super::range`]) on the blocking thread that opens
//! the file, up to [`WHOLE`] bytes read in one piece, larger ones streamed from disk
//! ([`super::send`]), never read whole into memory. `HEAD` answers as `GET` would,
//! without the body.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, LOCATION};
use http::{Response, StatusCode};

use super::listing::{self, Listing};
use super::page::{self, encode_segment, Chrome};
use super::path::{self, RelPath};
use super::range::{self, Answer, Conditions, Validators};
use super::send::{self, Content, Download, Naming};
use super::Query;
use crate::body::{self, Body};
use crate::error::{Error, Result};
use crate::notices::{self, Notice};
use crate::pages;

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
/// `as_json`; a file's answer depends on the request's `conditions`.
pub async fn get(
    root: &Path,
    rel: &RelPath,
    query: &Query,
    as_json: bool,
    page: &Page<'_>,
    conditions: &Conditions,
) -> Result<Response<Body>> {
    let shown = rel.display();
    // One trip to a blocking thread resolves, inspects and opens (and reads a small
    // file whole): a trip each cost more than serving a small file itself.
    let found = {
        let (root, rel, conditions) = (root.to_path_buf(), rel.clone(), conditions.clone());
        tokio::task::spawn_blocking(move || find(&root, &rel, &conditions))
            .await
            .map_err(|e| Error::Task(format!("reading {shown}: {e}")))??
    };
    match found {
        Found::Dir(target) => {
            if !rel.trailing_slash() {
                let name = rel.name().unwrap_or_default();
                let location = format!("{}/", encode_segment(name.as_bytes()));
                return Ok(redirect(&location, query));
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
        Found::File(download) => {
            let naming = Naming {
                name: rel.name().unwrap_or_default(),
                shown: &shown,
                download: query.download,
                as_json,
            };
            Ok(send::respond(download, &naming))
        }
    }
}

/// What a path names.
enum Found {
    Dir(std::path::PathBuf),
    File(Download),
    Other,
}

/// Resolves `rel` below `root`, looks at it and, for a file, decides what to send
/// of it under `conditions`: on a blocking thread.
fn find(root: &Path, rel: &RelPath, conditions: &Conditions) -> Result<Found> {
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
    let meta = file.metadata().map_err(reading)?;
    let validators = Validators::of(&meta);
    let mut len = meta.len();
    let decided = |answer, len, content| {
        Ok(Found::File(Download {
            answer,
            validators: validators.clone(),
            len,
            content,
        }))
    };
    if let Some(answer) = range::precondition(conditions, &validators, SystemTime::now()) {
        return decided(answer, len, Content::Nothing);
    }
    if len > WHOLE as u64 {
        return match range::span(conditions, &validators, len) {
            Answer::Full => decided(Answer::Full, len, Content::Open(file, len)),
            Answer::Part { start, end } => {
                file.seek(SeekFrom::Start(start)).map_err(reading)?;
                let part = Content::Open(file, end - start + 1);
                decided(Answer::Part { start, end }, len, part)
            }
            other => decided(other, len, Content::Nothing),
        };
    }
    // Read to the end (the length sent is what was read, should the file have
    // changed since it was measured), bounded: a file grown meanwhile is cut at the
    // bound rather than read whole.
    let mut buf = Vec::with_capacity(len as usize);
    file.take(WHOLE as u64)
        .read_to_end(&mut buf)
        .map_err(reading)?;
    let whole = Bytes::from(buf);
    len = whole.len() as u64;
    match range::span(conditions, &validators, len) {
        Answer::Full => decided(Answer::Full, len, Content::Whole(whole)),
        Answer::Part { start, end } => {
            // Both within the `len` bytes read, at most WHOLE.
            let part = whole.slice(start as usize..=end as usize);
            decided(Answer::Part { start, end }, len, Content::Whole(part))
        }
        other => decided(other, len, Content::Nothing),
    }
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
