//! Safe path resolution for the file API: a request path becomes a [`RelPath`] of
//! validated, percent-decoded segments, and is then resolved against the canonical
//! repository root so that nothing (`..`, encoded `..`, NUL, backslash, or a symbolic
//! link pointing outside) can reach a file outside the checkout.
//!
//! Segments are bytes, as Linux names are: a percent-encoded name that is not UTF-8
//! (`caf%E9.txt`, as the listing links to `caf\xE9.txt`) names that very file; only
//! what is shown to people is decoded lossily ([`RelPath::display`]).
//!
//! What the filesystem refuses about a path is the client's mistake, answered as
//! such ([`path_error`]): a name over [`NAME_MAX`] bytes or a path over the system's
//! limit is a 400, a symbolic link that loops is a 404; never a 500.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};

/// The longest file or folder name, in bytes (Linux filesystems' `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// A validated path below the repository root, as the client named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelPath {
    segments: Vec<OsString>,
    trailing_slash: bool,
}

impl RelPath {
    /// Parses the raw (still percent-encoded) part of the URL path after `/_dcs/files`,
    /// which starts with `/`. Rejects empty, `.` and `..` segments, NUL, backslash and
    /// encoded `/`, whether written plainly or percent-encoded.
    pub fn parse(raw: &str) -> Result<Self> {
        let Some(rest) = raw.strip_prefix('/') else {
            return Err(Error::BadRequest("a file path must start with '/'".into()));
        };
        if rest.is_empty() {
            return Ok(Self {
                segments: Vec::new(),
                trailing_slash: true,
            });
        }
        let mut raw_segments: Vec<&str> = rest.split('/').collect();
        let trailing_slash = raw_segments.last() == Some(&"");
        if trailing_slash {
            raw_segments.pop();
        }
        let segments = raw_segments
            .into_iter()
            .map(decode_segment)
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            segments,
            trailing_slash,
        })
    }

    /// True for the repository root itself.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// True when the client wrote a trailing `/` (it means a directory).
    pub fn trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The decoded segments: names as bytes, not necessarily UTF-8.
    pub fn segments(&self) -> &[OsString] {
        &self.segments
    }

    /// The last segment, if this is not the root.
    pub fn name(&self) -> Option<&OsStr> {
        self.segments.last().map(OsString::as_os_str)
    }

    /// The path as shown to users, `/`-separated from the repository root; with a
    /// trailing `/` when it names a directory. Bytes that are not UTF-8 show as `�`.
    pub fn display(&self) -> String {
        let n = self.segments.len();
        let mut out = self.shown(n);
        if n > 0 && !self.trailing_slash {
            out.pop();
        }
        out
    }

    fn parent_display(&self) -> String {
        self.shown(self.segments.len().saturating_sub(1))
    }

    /// `/` and the first `n` segments, each followed by `/`.
    fn shown(&self, n: usize) -> String {
        let mut out = String::from("/");
        for s in &self.segments[..n] {
            out.push_str(&s.to_string_lossy());
            out.push('/');
        }
        out
    }
}

fn decode_segment(raw: &str) -> Result<OsString> {
    if raw.is_empty() {
        return Err(Error::BadRequest(
            "the path has an empty segment ('//'); remove the doubled slash".into(),
        ));
    }
    let decoded: Vec<u8> = percent_decode_str(raw).collect();
    let bad = |why: &str| Err(Error::BadRequest(format!("invalid path segment: {why}")));
    if decoded.len() > NAME_MAX {
        return Err(Error::BadRequest(format!(
            "the name {}… is {} bytes long; a file or folder name may be at most {NAME_MAX} bytes",
            String::from_utf8_lossy(&decoded)
                .chars()
                .take(40)
                .collect::<String>(),
            decoded.len()
        )));
    }
    match decoded.as_slice() {
        b"." | b".." => return bad("'.' and '..' are not allowed"),
        s if s.contains(&0) => return bad("it contains a NUL character"),
        s if s.contains(&b'\\') => return bad("it contains a backslash"),
        s if s.contains(&b'/') => return bad("it contains an encoded '/'"),
        _ => {}
    }
    Ok(OsString::from_vec(decoded))
}

/// The canonical repository root; 503 while the checkout does not exist yet.
pub async fn root(checkout_dir: &Path) -> Result<PathBuf> {
    tokio::fs::canonicalize(checkout_dir)
        .await
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NotReady(
                "the repository is not checked out yet; try again in a moment".into(),
            ),
            _ => Error::io(format!("opening {}", checkout_dir.display()), e),
        })
}

/// Resolves an existing file or directory, following symbolic links, and checks the
/// result is still inside `root` (which must be canonical).
pub async fn resolve_existing(root: &Path, rel: &RelPath) -> Result<PathBuf> {
    let joined = join(root, rel.segments());
    let canonical = tokio::fs::canonicalize(&joined)
        .await
        .map_err(|e| not_found_or_io(e, &rel.display()))?;
    inside(root, &canonical, &rel.display())?;
    Ok(canonical)
}

/// [`resolve_existing`] on the calling thread (for code already on a blocking
/// thread, which does several file operations in one trip).
pub fn resolve_existing_blocking(root: &Path, rel: &RelPath) -> Result<PathBuf> {
    let joined = join(root, rel.segments());
    let canonical =
        std::fs::canonicalize(&joined).map_err(|e| not_found_or_io(e, &rel.display()))?;
    inside(root, &canonical, &rel.display())?;
    Ok(canonical)
}

/// Resolves the place a new entry named by `rel` would go: its canonical parent
/// directory, checked to be inside `root`, joined with the new entry's name.
pub async fn resolve_new(root: &Path, rel: &RelPath) -> Result<PathBuf> {
    let Some((name, parents)) = rel.segments().split_last() else {
        return Err(Error::BadRequest(
            "the repository root itself cannot be created".into(),
        ));
    };
    let parent_shown = rel.parent_display();
    let parent = tokio::fs::canonicalize(join(root, parents))
        .await
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Error::NotFound(format!(
                "directory {parent_shown} does not exist; create it first"
            )),
            _ => path_error(format!("opening {parent_shown}"), &parent_shown, e),
        })?;
    inside(root, &parent, &parent_shown)?;
    let meta = tokio::fs::metadata(&parent)
        .await
        .map_err(|e| path_error(format!("opening {parent_shown}"), &parent_shown, e))?;
    if !meta.is_dir() {
        return Err(Error::Conflict(format!(
            "{parent_shown} is a file, not a directory"
        )));
    }
    Ok(parent.join(name))
}

fn join(root: &Path, segments: &[OsString]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(segments);
    path
}

fn inside(root: &Path, canonical: &Path, shown: &str) -> Result<()> {
    if canonical.starts_with(root) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "{shown} leads outside the repository (through a symbolic link); refused"
        )))
    }
}

fn not_found_or_io(e: io::Error, shown: &str) -> Error {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            Error::NotFound(format!("{shown} does not exist"))
        }
        _ => path_error(format!("opening {shown}"), shown, e),
    }
}

/// The error for `e`, met while `what` on the path shown as `shown`: what the
/// filesystem refuses about the path itself is the client's mistake (a name or
/// path too long: 400; a symbolic link loop: 404), anything else stays an I/O error.
pub fn path_error(what: String, shown: &str, e: io::Error) -> Error {
    use nix::errno::Errno;
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ENAMETOOLONG) => Error::BadRequest(format!(
            "{shown} is too long for the filesystem: a name may be at most {NAME_MAX} bytes \
             and the whole path a few thousand"
        )),
        Some(Errno::ELOOP) => Error::NotFound(format!(
            "{shown} leads through a symbolic link that loops (it never reaches a file or folder)"
        )),
        _ => Error::io(what, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(raw: &str) -> String {
        match RelPath::parse(raw) {
            Err(Error::BadRequest(m)) => m,
            other => panic!("{raw:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn parse_decodes_segments_and_remembers_the_trailing_slash() {
        let p = RelPath::parse("/a%20b/c.txt").expect("valid");
        assert_eq!(
            p.segments(),
            [OsString::from("a b"), OsString::from("c.txt")]
        );
        assert!(!p.trailing_slash());
        assert_eq!(p.display(), "/a b/c.txt");
        let d = RelPath::parse("/sub/").expect("valid");
        assert_eq!((d.display(), d.trailing_slash()), ("/sub/".into(), true));
        assert!(RelPath::parse("/").expect("root").is_root());
    }

    #[test]
    fn traversal_and_odd_bytes_are_rejected() {
        assert!(bad("/../etc/passwd").contains("'..'"));
        assert!(bad("/a/%2e%2e/b").contains("'..'"));
        assert!(bad("/a/%2E%2E").contains("'..'"));
        assert!(bad("/./a").contains("'.'"));
        assert!(bad("/a%00b").contains("NUL"));
        assert!(bad("/a%5cb").contains("backslash"));
        assert!(bad("/a\\b").contains("backslash"));
        assert!(bad("/a%2fb").contains("'/'"));
        assert!(bad("/a//b").contains("empty"));
        assert!(bad("/caf%E9%00").contains("NUL"));
        assert!(bad("no-slash").contains("start"));
    }

    #[test]
    fn names_are_bytes_and_need_not_be_utf8() {
        let p = RelPath::parse("/d%ffir/caf%E9.txt").expect("a Linux name is bytes");
        let raw: Vec<Vec<u8>> = p.segments().iter().map(|s| s.clone().into_vec()).collect();
        assert_eq!(raw, [b"d\xffir".to_vec(), b"caf\xe9.txt".to_vec()]);
        assert_eq!(p.name().map(OsStr::len), Some(8));
        assert_eq!(p.display(), "/d\u{fffd}ir/caf\u{fffd}.txt");
        assert_eq!(
            RelPath::parse("/%ff/").expect("dir").display(),
            "/\u{fffd}/"
        );
        // Raw UTF-8 and its encoded spelling are the same name.
        let plain = RelPath::parse("/café").expect("utf-8");
        assert_eq!(plain, RelPath::parse("/caf%C3%A9").expect("encoded"));
    }

    #[tokio::test]
    async fn a_symlink_pointing_outside_is_refused() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), "s").expect("write");
        let repo = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), repo.path().join("out")).expect("symlink");
        std::fs::write(repo.path().join("ok.txt"), "ok").expect("write");
        let root = root(repo.path()).await.expect("root");

        let through = RelPath::parse("/out/secret").expect("syntax is fine");
        let err = resolve_existing(&root, &through)
            .await
            .expect_err("outside");
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let new_there = RelPath::parse("/out/new.txt").expect("syntax is fine");
        let err = resolve_new(&root, &new_there).await.expect_err("outside");
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");

        let ok = RelPath::parse("/ok.txt").expect("valid");
        assert_eq!(
            resolve_existing(&root, &ok).await.expect("inside"),
            root.join("ok.txt")
        );
    }

    #[test]
    fn names_over_255_bytes_are_refused() {
        let ok = format!("/{}", "n".repeat(255));
        assert!(RelPath::parse(&ok).is_ok());
        assert!(bad(&format!("/{}", "n".repeat(256))).contains("at most 255 bytes"));
        // Bytes, not characters: 128 two-byte characters are 256 bytes.
        let wide = format!("/{}", "%C3%A9".repeat(128));
        assert!(bad(&wide).contains("256 bytes"));
    }

    #[tokio::test]
    async fn symlink_loops_are_404_and_overlong_paths_400() {
        let repo = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink("loop", repo.path().join("loop")).expect("symlink");
        std::os::unix::fs::symlink("b", repo.path().join("a")).expect("symlink");
        std::os::unix::fs::symlink("a", repo.path().join("b")).expect("symlink");
        let root = root(repo.path()).await.expect("root");
        for p in ["/loop", "/a", "/loop/x"] {
            let rel = RelPath::parse(p).expect("valid");
            let err = resolve_existing(&root, &rel).await.expect_err("loop");
            assert!(matches!(err, Error::NotFound(_)), "{p}: {err:?}");
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        let inside = RelPath::parse("/loop/new.txt").expect("valid");
        let err = resolve_new(&root, &inside).await.expect_err("loop parent");
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
        let deep = format!("/{}", vec!["d".repeat(250); 20].join("/"));
        let rel = RelPath::parse(&deep).expect("each name is short enough");
        let err = resolve_existing(&root, &rel).await.expect_err("too long");
        assert!(
            matches!(err, Error::NotFound(_) | Error::BadRequest(_)),
            "{err:?}"
        );
        let err = resolve_new(&root, &rel).await.expect_err("too long");
        assert!(
            matches!(err, Error::NotFound(_) | Error::BadRequest(_)),
            "{err:?}"
        );
        let long = io::Error::from_raw_os_error(nix::errno::Errno::ENAMETOOLONG as i32);
        let err = path_error("publishing /x".into(), "/x", long);
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST, "{err:?}");
        let other = io::Error::from_raw_os_error(nix::errno::Errno::EIO as i32);
        let err = path_error("publishing /x".into(), "/x", other);
        assert_eq!(err.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn missing_things_are_404_and_a_missing_root_is_503() {
        let repo = tempfile::tempdir().expect("tempdir");
        let root_dir = root(repo.path()).await.expect("root");
        let missing = RelPath::parse("/nope/x").expect("valid");
        let err = resolve_existing(&root_dir, &missing)
            .await
            .expect_err("missing");
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
        let err = resolve_new(&root_dir, &missing)
            .await
            .expect_err("no parent");
        assert!(err.to_string().contains("/nope/ does not exist"), "{err}");
        let err = root(&repo.path().join("absent")).await.expect_err("absent");
        assert!(matches!(err, Error::NotReady(_)), "{err:?}");
    }
}
