//! [`RepoRef::from_link_at`]: a repository as a person types or pastes it into the
//! home page's "Open a repository" box: `owner/repo`, a web or clone URL on the
//! server repositories come from (`https://<host>/owner/repo`, `…/tree/main/src`,
//! `…repo.git`, `<host>/owner/repo`, `git@<host>:owner/repo.git`), or this
//! product's own workspace path (`/github/owner/repo/…`).
//!
//! A link names a repository here only when it points at the git base
//! ([`LinkBase`], from `--git-base`): its host (a port too, when both name one) and,
//! for a base with a path (`https://git.example.com/scm`), under that path
//! (`https://git.example.com/scm/owner/repo`; an ssh address `git@host:owner/repo`
//! carries no such path). A link to any other server is refused, naming the git
//! base's host: `https://github.com/acme/hello` on a site whose repositories come
//! from a Gitea would otherwise open the Gitea's `acme/hello`, another repository.
//! `www.github.com` counts as `github.com`. A `file://` git base has no host: only
//! `owner/repo` and workspace paths open. [`RepoRef::from_link`] is the default
//! base's (`https://github.com`); [`LinkBase::any_host`] takes every host, for a
//! client that does not know the git base. Anything else is refused with the rule
//! it broke.

use super::RepoRef;
use crate::error::{shown, Error, Result};

/// Longest text looked at (a URL with a deep path still fits).
const MAX_LINK: usize = 2048;

/// Where pasted links may point: the git base's server (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkBase {
    hosts: Hosts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Hosts {
    /// Every host (a client that does not know the git base).
    Any,
    /// No host: a `file://` (or unreadable) git base.
    Local,
    /// One server.
    One {
        /// Lowercase host name (an IPv6 address in brackets).
        host: String,
        /// Its port, when the base names one.
        port: Option<u16>,
        /// Path segments before `owner/repo`.
        prefix: Vec<String>,
    },
}

impl Default for LinkBase {
    /// The default git base's: `github.com`.
    fn default() -> Self {
        Self::of_git_base(crate::env::DEFAULT_GIT_BASE)
    }
}

impl LinkBase {
    /// Links to the server of `git_base` (`--git-base`, e.g. `https://github.com`,
    /// `http://git.example.com:3000/scm`); a `file://` base takes no links.
    pub fn of_git_base(git_base: &str) -> Self {
        let base = git_base.trim();
        let Some(rest) = strip_scheme(base) else {
            return Self {
                hosts: Hosts::Local,
            };
        };
        let (authority, path) = split_authority(rest);
        let (host, port) = split_port(authority);
        if host.is_empty() {
            return Self {
                hosts: Hosts::Local,
            };
        }
        Self {
            hosts: Hosts::One {
                host: host.to_ascii_lowercase(),
                port: port.and_then(|p| p.parse().ok()),
                prefix: segments(path).map(str::to_owned).collect(),
            },
        }
    }

    /// Links to any host, read as `…/owner/repo[/…]`: for a client that does not
    /// know the git base (the CLI) and leaves it to the server.
    pub fn any_host() -> Self {
        Self { hosts: Hosts::Any }
    }

    /// Whether `host` (as a link gives it, with a port and credentials perhaps)
    /// is this base's server.
    fn names(&self, host: &str) -> bool {
        match &self.hosts {
            Hosts::Any => true,
            Hosts::Local => false,
            Hosts::One {
                host: want,
                port: want_port,
                ..
            } => {
                let (name, port) = split_port(host);
                let same_name = name.eq_ignore_ascii_case(want)
                    || (want == "github.com" && name.eq_ignore_ascii_case("www.github.com"));
                let same_port = match (port, want_port) {
                    (Some(p), Some(want)) => p.parse::<u16>().ok() == Some(*want),
                    _ => true,
                };
                same_name && same_port
            }
        }
    }

    /// Whether `first/rest`, given without a scheme, starts with a host: this
    /// base's own, or a name no owner has (with a `.` or `:`) before `owner/repo`.
    fn is_host(&self, first: &str, rest: &str) -> bool {
        let own = matches!(self.hosts, Hosts::One { .. }) && self.names(first);
        own || (first.contains(['.', ':']) && segments(rest).nth(1).is_some())
    }

    /// The part of a URL's `path` that names the repository on `host`, or why not.
    fn path_on<'a>(&self, link: &str, host: &str, path: &'a str) -> Result<&'a str> {
        if !self.names(host) {
            return Err(self.refuse(link));
        }
        let mut rest = path;
        if let Hosts::One { prefix, .. } = &self.hosts {
            for want in prefix {
                let trimmed = rest.trim_start_matches('/');
                let (segment, after) = trimmed.split_once('/').unwrap_or((trimmed, ""));
                if segment != want {
                    return Err(self.refuse(link));
                }
                rest = after;
            }
        }
        Ok(rest)
    }

    /// The error for `link`, which points elsewhere.
    fn refuse(&self, link: &str) -> Error {
        match &self.hosts {
            Hosts::One { host, port, prefix } => {
                let mut base = host.clone();
                if let Some(port) = port {
                    base.push_str(&format!(":{port}"));
                }
                for segment in prefix {
                    base.push('/');
                    base.push_str(segment);
                }
                Error::ForeignLink {
                    shown: shown(link),
                    base,
                }
            }
            Hosts::Any | Hosts::Local => Error::InvalidRepo {
                shown: shown(link),
                why: "links do not open here (repositories come from a directory): \
                      give owner/repo",
            },
        }
    }
}

impl RepoRef {
    /// The repository `link` names on the default git base, `https://github.com`
    /// (see the module docs).
    pub fn from_link(link: &str) -> Result<Self> {
        Self::from_link_at(link, &LinkBase::default())
    }

    /// The repository `link` names on `base` (see the module docs).
    pub fn from_link_at(link: &str, base: &LinkBase) -> Result<Self> {
        let refused = |why| Error::InvalidRepo {
            shown: shown(link),
            why,
        };
        if link.len() > MAX_LINK {
            return Err(refused("too long"));
        }
        // A query or fragment names something inside the repository, or nothing.
        let text = link.trim().split(['?', '#']).next().unwrap_or_default();
        let path = if let Some(rest) = text.strip_prefix("git@") {
            // scp-like clone address: git@host:owner/repo.git (no base path)
            match rest.split_once(':') {
                Some((host, path)) if base.names(host) => path,
                Some(_) => return Err(base.refuse(link)),
                None => return Err(refused("expected git@host:owner/repo")),
            }
        } else if let Some(rest) = strip_scheme(text) {
            let (host, path) = split_authority(rest);
            let path = base.path_on(link, host, path)?;
            if segments(path).next().is_none() {
                return Err(refused("expected owner/repo after the host"));
            }
            path
        } else {
            match text.split_once('/') {
                Some((host, path)) if base.is_host(host, path) => base.path_on(link, host, path)?,
                _ => text
                    .strip_prefix("/github/")
                    .unwrap_or_else(|| text.trim_start_matches('/')),
            }
        };
        // The repository is the first two segments: `/tree/main/…` after them names
        // something inside it.
        let mut parts = segments(path);
        match (parts.next(), parts.next()) {
            (Some(owner), Some(repo)) => Self::new(owner, repo),
            _ => Err(refused("expected owner/repo")),
        }
    }
}

/// What follows `http://` or `https://` (any case), if `s` starts with either.
fn strip_scheme(s: &str) -> Option<&str> {
    ["https://", "http://"].iter().find_map(|scheme| {
        let head = s.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &s[scheme.len()..])
    })
}

/// A URL's authority and the path after it (a query or fragment right after the
/// authority leaves an empty path).
fn split_authority(rest: &str) -> (&str, &str) {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(end);
    let path = if after.starts_with('/') { after } else { "" };
    (authority, path)
}

/// An authority's host and port, without any `user@`.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.starts_with('[') {
        if let Some(end) = authority.find(']') {
            let (host, after) = authority.split_at(end + 1);
            return (host, after.strip_prefix(':').filter(|p| !p.is_empty()));
        }
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port).filter(|p| !p.is_empty()))
        }
        _ => (authority, None),
    }
}

/// The non-empty segments of `path`.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests;
