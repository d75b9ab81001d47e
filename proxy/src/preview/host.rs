//! Preview host names (subdomain mode): `<port>-<workspace name>.<preview domain>`.
//!
//! The workspace name is its Kubernetes-safe name from `dcs-model` (`ws-<slug>-<hash>`,
//! an instance's id). A DNS label holds at most 63 characters, so when `<port>-<name>`
//! is longer the slug is shortened and the name's last 16 characters (for a
//! repository workspace its hash) kept. The label only names the host: what a request
//! reaches is decided by the signed grant of its ticket or cookie, which must name
//! the same label.

use dcs_model::WorkspaceKey;
use http::header::{HeaderMap, HOST};

use crate::config::previews::PreviewDomain;

/// Longest DNS label.
const MAX_LABEL: usize = 63;
/// How much of the name's end a shortened label keeps.
const KEPT_TAIL: usize = 16;

/// The label of `key`'s preview of `port`.
pub fn label(port: u16, key: &WorkspaceKey) -> String {
    let name = key.name();
    let name = name.as_str();
    let full = format!("{port}-{name}");
    if full.len() <= MAX_LABEL || name.len() <= KEPT_TAIL {
        return full;
    }
    let room = MAX_LABEL - port.to_string().len() - 1 - KEPT_TAIL - 1;
    let head = name[..room.min(name.len())].trim_end_matches('-');
    let tail = &name[name.len() - KEPT_TAIL..];
    format!("{port}-{head}-{tail}")
}

/// A request's preview host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewHost {
    /// `<port>-<name>`, lower case.
    pub label: String,
    /// The port it previews.
    pub port: u16,
}

/// The preview host `headers` ask for, if their `Host` is a preview label under
/// `domain` (any port, any case). Anything else (the main origin included) is `None`.
pub fn of_request(headers: &HeaderMap, domain: &PreviewDomain) -> Option<PreviewHost> {
    let host = headers.get(HOST)?.to_str().ok()?;
    parse(host, domain)
}

/// [`of_request`] for a `Host` value.
pub fn parse(host: &str, domain: &PreviewDomain) -> Option<PreviewHost> {
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let label = host.strip_suffix(&domain.host)?.strip_suffix('.')?;
    let (digits, name) = label.split_once('-')?;
    let valid = label.len() <= MAX_LABEL
        && !digits.is_empty()
        && digits.len() <= 5
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let port: u16 = digits.parse().ok().filter(|p| valid && *p != 0)?;
    Some(PreviewHost {
        label: label.to_owned(),
        port,
    })
}

/// `host[:port]` of the preview `label`: the domain's port if it names one, else the
/// port the main origin was reached on (`main_port`).
pub fn authority(label: &str, domain: &PreviewDomain, main_port: Option<u16>) -> String {
    match domain.port.or(main_port) {
        Some(port) => format!("{label}.{}:{port}", domain.host),
        None => format!("{label}.{}", domain.host),
    }
}

#[cfg(test)]
mod tests {
    use dcs_model::{InstanceId, RepoRef, UserId};

    use super::*;

    fn domain() -> PreviewDomain {
        PreviewDomain::parse("preview.example.com").expect("domain")
    }

    #[test]
    fn labels_are_dns_labels_and_parse_back() {
        let long_user = "a".repeat(64);
        let repo = RepoRef::new("acme", "hello").expect("repo");
        for (user, port) in [("alice", 9998), (long_user.as_str(), 65535), ("bob", 1)] {
            let key = WorkspaceKey::new(UserId::new(user).expect("user"), repo.clone());
            let l = label(port, &key);
            assert!(l.len() <= 63, "{l}");
            assert!(l.ends_with(&key.name().as_str()[key.name().as_str().len() - 16..]));
            let host = format!("{l}.preview.example.com:8443");
            assert_eq!(
                parse(&host, &domain()),
                Some(PreviewHost {
                    label: l.clone(),
                    port
                }),
                "{host}"
            );
            assert_eq!(
                parse(&host.to_uppercase(), &domain()).map(|h| h.label),
                Some(l)
            );
        }
        let alice = |r: &str| {
            let key = WorkspaceKey::new(
                UserId::new(&long_user).expect("user"),
                RepoRef::new("acme", r).expect("repo"),
            );
            label(3000, &key)
        };
        assert_ne!(alice("one"), alice("two"), "the hash tells them apart");
        let id = InstanceId::from_random([1; 8]);
        let inst = WorkspaceKey::instance(UserId::new("alice").expect("user"), id.clone());
        assert_eq!(label(8000, &inst), format!("8000-{id}"));
    }

    #[test]
    fn only_preview_labels_under_the_domain_are_preview_hosts() {
        for not_one in [
            "preview.example.com",
            "ide.example.com",
            "9998-ws-a.example.com",
            "9998-ws-a.preview.example.com.evil.example",
            "x.9998-ws-a.preview.example.com",
            "ide.preview.example.com",
            "0-ws-a.preview.example.com",
            "09998-ws-a.preview.example.com",
            "99999-ws-a.preview.example.com",
            "9998-.preview.example.com",
            "9998-ws_a.preview.example.com",
            "9998-ws-a-.preview.example.com",
            "9998-ws-a.xpreview.example.com",
            "",
        ] {
            assert_eq!(parse(not_one, &domain()), None, "{not_one}");
        }
        assert_eq!(
            parse("9998-ws-a.preview.example.com.", &domain()).map(|h| h.port),
            Some(9998)
        );
    }

    #[test]
    fn the_authority_keeps_the_main_origins_port_unless_the_domain_names_one() {
        assert_eq!(
            authority("1-x", &domain(), Some(8080)),
            "1-x.preview.example.com:8080"
        );
        assert_eq!(authority("1-x", &domain(), None), "1-x.preview.example.com");
        let pinned = PreviewDomain::parse("preview.example.com:443").expect("domain");
        assert_eq!(
            authority("1-x", &pinned, Some(8080)),
            "1-x.preview.example.com:443"
        );
    }
}
