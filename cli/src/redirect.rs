//! Redirect answers. `dcs` never follows a redirect: behind an ingress with forward
//! auth, a missing or expired token makes `/api/…` answer `302` to a sign-in page
//! whose `200` HTML, once followed, would pass for the API's answer (a `DELETE`
//! that deleted nothing would look done). A `3xx` is an error instead, saying what
//! it most likely means:
//!
//! - the same API path on another scheme, host or port (`http://` → `https://`, a
//!   canonical host name): the `--server` is not quite right (exit 2), and the error
//!   names the base to use;
//! - anywhere else: a sign-in page, so the token is missing or expired (exit 3).
//!
//! The target is shown as scheme, host, port and path only: never its query (a
//! sign-in URL carries state there) nor any user info.

use reqwest::{StatusCode, Url};

use crate::exit::{CliError, Exit};

/// The longest target shown, in characters.
const MAX_SHOWN: usize = 200;

/// The error for a redirect `status` answered to `request` (a URL under `server`,
/// the base URL) with the `location` header, if any.
pub fn error(server: &Url, request: &Url, status: StatusCode, location: Option<&str>) -> CliError {
    let code = status.as_u16();
    let Some(target) = location.and_then(|l| request.join(l.trim()).ok()) else {
        return CliError::new(
            Exit::Server,
            format!(
                "the server answered {code} (a redirect) without a usable Location instead \
                 of the API's JSON"
            ),
        );
    };
    let web = matches!(target.scheme(), "http" | "https");
    if web && target.path() == request.path() && target.origin() != request.origin() {
        let mut base = target.clone();
        base.set_path(server.path());
        base.set_query(None);
        base.set_fragment(None);
        // Both only fail for URLs that cannot have them (never http/https).
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let base = crate::client::server_key(&base);
        return CliError::usage(format!(
            "the server redirects the API to {base} ({code}): use --server {base} \
             (or DCS_SERVER={base})"
        ));
    }
    CliError::new(
        Exit::Auth,
        format!(
            "the server redirected to {} ({code}) instead of answering: most likely a \
             sign-in page, so DCS_TOKEN (or --token) is missing, expired or not accepted",
            shown(&target)
        ),
    )
}

/// `url` without user info, query or fragment, at most [`MAX_SHOWN`] characters.
fn shown(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let text = format!("{}://{host}{port}{}", url.scheme(), url.path());
    if text.chars().count() <= MAX_SHOWN {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_SHOWN).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn a_redirect_elsewhere_is_a_sign_in_page_without_its_query() {
        let server = url("https://ide.example.com");
        let request = url("https://ide.example.com/api/instances");
        for location in [
            "/login?rd=https%3A%2F%2Fide.example.com%2Fapi%2Finstances&state=s3cr3t",
            "https://user:pw@auth.example.com/login?state=s3cr3t#frag",
            "/api/instances/",
        ] {
            let e = error(&server, &request, StatusCode::FOUND, Some(location));
            assert_eq!(e.exit, Exit::Auth, "{location}: {e}");
            assert!(e.message.contains("sign-in page"), "{e}");
            assert!(e.message.contains("DCS_TOKEN"), "{e}");
            for secret in ["s3cr3t", "rd=", "pw", "user", "frag"] {
                assert!(!e.message.contains(secret), "{location}: {e}");
            }
        }
        let e = error(&server, &request, StatusCode::FOUND, Some("/login?rd=x"));
        assert!(
            e.message.contains("https://ide.example.com/login (302)"),
            "{e}"
        );
        let e = error(
            &server,
            &request,
            StatusCode::SEE_OTHER,
            Some("https://auth.example.com:9443/if/flow/x/"),
        );
        assert!(
            e.message
                .contains("https://auth.example.com:9443/if/flow/x/ (303)"),
            "{e}"
        );
    }

    #[test]
    fn the_same_path_elsewhere_names_the_server_to_use() {
        let server = url("http://ide.example.com/dcs/");
        let request = url("http://ide.example.com/dcs/api/instances?all=true");
        let e = error(
            &server,
            &request,
            StatusCode::MOVED_PERMANENTLY,
            Some("https://ide.example.com/dcs/api/instances?all=true"),
        );
        assert_eq!(e.exit, Exit::Usage, "{e}");
        assert!(
            e.message
                .contains("use --server https://ide.example.com/dcs "),
            "{e}"
        );
        let e = error(
            &url("http://127.0.0.1:8080"),
            &url("http://127.0.0.1:8080/api/me"),
            StatusCode::TEMPORARY_REDIRECT,
            Some("http://localhost:8080/api/me"),
        );
        assert_eq!(e.exit, Exit::Usage, "{e}");
        assert!(e.message.contains("--server http://localhost:8080 "), "{e}");
    }

    #[test]
    fn a_redirect_without_a_location_is_an_unreadable_answer() {
        let server = url("http://127.0.0.1:8080");
        let request = url("http://127.0.0.1:8080/api/me");
        for location in [None, Some("http://[::1")] {
            let e = error(&server, &request, StatusCode::FOUND, location);
            assert_eq!(e.exit, Exit::Server, "{location:?}: {e}");
        }
    }
}
