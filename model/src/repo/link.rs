//! [`RepoRef::from_link`]: a repository as a person types or pastes it into the
//! home page's "Open a repository" box: `owner/repo`, a GitHub web or clone URL
//! (`https://github.com/owner/repo`, `…/tree/main/src`, `…repo.git`,
//! `git@github.com:owner/repo.git`), or this product's own workspace path
//! (`/github/owner/repo/…`). Anything else is refused with the rule it broke.

use super::RepoRef;
use crate::error::{shown, Error, Result};

/// Longest text looked at (a URL with a deep path still fits).
const MAX_LINK: usize = 2048;

impl RepoRef {
    /// The repository `link` names (see the module docs).
    pub fn from_link(link: &str) -> Result<Self> {
        let refused = |why| Error::InvalidRepo {
            shown: shown(link),
            why,
        };
        if link.len() > MAX_LINK {
            return Err(refused("too long"));
        }
        let text = link.trim();
        let path = if let Some(rest) = text.strip_prefix("git@") {
            // scp-like clone address: git@github.com:owner/repo.git
            match rest.split_once(':') {
                Some((host, path)) if is_github(host) => path,
                _ => return Err(refused("only github.com repositories open here")),
            }
        } else {
            let bare = ["https://", "http://"]
                .iter()
                .find_map(|scheme| strip_prefix_ignore_case(text, scheme));
            match bare {
                Some(rest) => match rest.split_once('/') {
                    Some((host, path)) if is_github(host) => path,
                    Some(_) => return Err(refused("only github.com repositories open here")),
                    None => return Err(refused("expected owner/repo after the host")),
                },
                None => match text.split_once('/') {
                    // github.com/owner/repo without a scheme
                    Some((host, path)) if is_github(host) => path,
                    _ => text
                        .strip_prefix("/github/")
                        .unwrap_or_else(|| text.trim_start_matches('/')),
                },
            }
        };
        // The repository is the first two segments: `/tree/main/…`, a query or a
        // fragment after them name something inside it.
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        match (segments.next(), segments.next()) {
            (Some(owner), Some(repo)) => Self::new(owner, repo),
            _ => Err(refused("expected owner/repo")),
        }
    }
}

fn is_github(host: &str) -> bool {
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    host.eq_ignore_ascii_case("github.com") || host.eq_ignore_ascii_case("www.github.com")
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_people_paste_names_the_repository() {
        for link in [
            "acme/hello",
            "  acme/hello\n",
            "acme/hello.git",
            "https://github.com/acme/hello",
            "HTTPS://GitHub.com/acme/hello/",
            "https://github.com/acme/hello.git",
            "https://www.github.com/acme/hello/tree/main/src?x=1#readme",
            "http://github.com/acme/hello#top",
            "github.com/acme/hello",
            "git@github.com:acme/hello.git",
            "/github/acme/hello/",
            "/github/acme/hello/src/main.rs",
        ] {
            let repo = RepoRef::from_link(link).unwrap_or_else(|e| panic!("{link:?}: {e}"));
            assert_eq!(repo.as_str(), "acme/hello", "{link:?}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_rule() {
        for (link, why) in [
            ("", "expected owner/repo"),
            ("hello", "expected owner/repo"),
            ("https://github.com/acme", "expected owner/repo"),
            ("https://github.com", "expected owner/repo after the host"),
            ("https://gitlab.com/acme/hello", "only github.com"),
            (
                "https://github.com.evil.example/acme/hello",
                "only github.com",
            ),
            ("git@gitlab.com:acme/hello.git", "only github.com"),
            ("javascript:alert(1)", "expected owner/repo"),
            ("acme/../hello", ""),
            ("-acme/hello", ""),
            ("acme/hel lo", ""),
        ] {
            let err = RepoRef::from_link(link).expect_err(link).to_string();
            assert!(err.contains(why), "{link:?}: {err}");
        }
        let long = "a/".repeat(MAX_LINK);
        let err = RepoRef::from_link(&long).expect_err("long").to_string();
        assert!(err.contains("too long") && err.len() < 200, "{err}");
    }
}
