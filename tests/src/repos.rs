//! Upstream repositories the tests serve through [`crate::GitServer`]: bare
//! repos at `<root>/<owner>/<repo>.git`, built and updated with the `git`
//! CLI through a private work clone.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use tempfile::TempDir;

use crate::git_cli::run_git;

/// The branch every upstream repository is created with.
pub const DEFAULT_BRANCH: &str = "main";

/// A bare, read-only (no push over HTTP) upstream repository.
#[derive(Debug)]
pub struct UpstreamRepo {
    /// `owner/repo`, as it appears in URLs.
    name: String,
    /// The bare repository, `<root>/<owner>/<repo>.git`.
    bare: PathBuf,
    /// Work clone used to make commits; deleted with the repo handle.
    work: TempDir,
}

impl UpstreamRepo {
    /// Creates the bare repository `<root>/<name>.git` (e.g. `name` =
    /// `"acme/hello"`) with one commit on `main` holding `files`
    /// (`(path, content)` pairs).
    pub fn create(root: &Path, name: &str, files: &[(&str, &str)]) -> anyhow::Result<Self> {
        check_name(name)?;
        let bare = root.join(format!("{name}.git"));
        if bare.exists() {
            bail!("{} already exists", bare.display());
        }
        let parent = bare.parent().context("bare repo path has no parent")?;
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        // Absolute, so the work clone's `origin` works from any directory.
        let parent = parent
            .canonicalize()
            .with_context(|| format!("resolving {}", parent.display()))?;
        let bare = parent.join(bare.file_name().context("bare repo path has no name")?);
        let bare_str = path_str(&bare)?;
        run_git(
            &parent,
            &["init", "--quiet", "--bare", "-b", DEFAULT_BRANCH, bare_str],
        )?;
        run_git(&bare, &["config", "http.receivepack", "false"])?;

        let work = tempfile::Builder::new()
            .prefix("dcs-e2e-upstream-")
            .tempdir()
            .context("creating the work clone directory")?;
        run_git(work.path(), &["init", "--quiet", "-b", DEFAULT_BRANCH])?;
        run_git(work.path(), &["remote", "add", "origin", bare_str])?;
        let repo = UpstreamRepo {
            name: name.to_owned(),
            bare,
            work,
        };
        repo.commit(files, "initial commit")?;
        Ok(repo)
    }

    /// Writes `files` (creating parent directories), commits them to `main`
    /// with `message`, pushes to the bare repository and returns the new sha.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> anyhow::Result<String> {
        let work = self.work.path();
        for (path, content) in files {
            let rel = Path::new(path);
            if rel.is_absolute() || rel.components().any(|c| c == Component::ParentDir) {
                bail!("file path {path:?} must stay inside the repository");
            }
            let full = work.join(rel);
            if let Some(dir) = full.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&full, content)
                .with_context(|| format!("writing {}", full.display()))?;
        }
        run_git(work, &["add", "--all"])?;
        run_git(work, &["commit", "--quiet", "--allow-empty", "-m", message])?;
        run_git(work, &["push", "--quiet", "origin", DEFAULT_BRANCH])?;
        self.head()
    }

    /// The sha `main` points at in the bare repository.
    pub fn head(&self) -> anyhow::Result<String> {
        run_git(
            &self.bare,
            &["rev-parse", &format!("refs/heads/{DEFAULT_BRANCH}")],
        )
    }

    /// `owner/repo`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Path of the bare repository on disk.
    pub fn path(&self) -> &Path {
        &self.bare
    }

    /// A fork of this repository at `<root>/<owner>/<repo>.git` (a bare clone
    /// with its whole history) that accepts pushes over HTTP, as a user's fork
    /// does; returns its path.
    pub fn fork_into(&self, root: &Path) -> anyhow::Result<PathBuf> {
        let fork = root.join(format!("{}.git", self.name));
        let parent = fork.parent().context("fork path has no parent")?;
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        run_git(
            parent,
            &[
                "clone",
                "--quiet",
                "--bare",
                path_str(&self.bare)?,
                path_str(&fork)?,
            ],
        )?;
        run_git(&fork, &["config", "http.receivepack", "true"])?;
        Ok(fork)
    }

    /// Clone URL under a git server's `base_url`:
    /// `<base_url>/<owner>/<repo>.git`.
    pub fn url(&self, base_url: &str) -> String {
        format!("{}/{}.git", base_url.trim_end_matches('/'), self.name)
    }
}

/// `len` characters of deterministic noise (hex digits of a xorshift sequence
/// seeded with `seed`): content that compresses poorly, for repositories big enough
/// that a slow clone takes a while.
pub fn noise(len: usize, seed: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut state = seed | 1;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        for shift in (0..64).step_by(4) {
            if out.len() == len {
                break;
            }
            out.push(char::from(HEX[((state >> shift) & 0xf) as usize]));
        }
    }
    out
}

/// Accepts relative names of plain segments such as `acme/hello`.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if !ok {
        bail!("repository name {name:?} must look like `owner/repo`");
    }
    Ok(())
}

/// `path` as UTF-8, for passing to the git CLI.
fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("path {} is not UTF-8", path.display()))
}
