//! The HTTP side: the management API client (bearer token, timeouts, error
//! answers mapped to exit codes, redirects never followed: [`crate::redirect`]) and
//! the URLs built from the server's base URL.

use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::exit::{CliError, Exit};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one whole request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The server's base URL, checked: `http` or `https`, no query or fragment.
pub fn parse_server(server: &str) -> Result<Url, CliError> {
    let url = Url::parse(server.trim())
        .map_err(|e| CliError::usage(format!("--server {server:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(CliError::usage(format!(
            "--server {server:?} must be an http:// or https:// URL"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CliError::usage(format!(
            "--server {server:?} must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// The key the token store files a server under: its URL without a trailing slash.
pub fn server_key(server: &Url) -> String {
    server.as_str().trim_end_matches('/').to_owned()
}

/// `server`'s API endpoint made of path `segments` (each percent-encoded as one
/// segment, so an id can never add a path level) and `query` pairs.
pub fn endpoint(server: &Url, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut url = server.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().push("api").extend(segments);
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url
}

/// The URL that opens an instance: its `url` (absolute, or a path resolved against
/// `server`) with `tkn=<token>` appended to the query, properly encoded.
pub fn open_url(server: &Url, url: &str, token: &str) -> Result<Url, CliError> {
    let mut resolved = server.join(url).map_err(|e| {
        CliError::new(
            Exit::Server,
            format!("the server gave an unusable instance URL {url:?}: {e}"),
        )
    })?;
    resolved.query_pairs_mut().append_pair("tkn", token);
    Ok(resolved)
}

/// A management API client.
pub struct Client {
    http: reqwest::Client,
    server: Url,
    token: Option<String>,
}

impl Client {
    /// A client of `server`, authenticating with `token` if given.
    pub fn new(server: Url, token: Option<String>) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("dcs/", env!("CARGO_PKG_VERSION")))
            // A redirect is answered as an error (a sign-in page's 200 is no answer).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CliError::local(format!("setting up HTTP: {}", chain(&e))))?;
        Ok(Self {
            http,
            server,
            token: token.filter(|t| !t.is_empty()),
        })
    }

    /// The server's base URL.
    pub fn server(&self) -> &Url {
        &self.server
    }

    /// `GET` an API path; the answer's JSON.
    pub async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, CliError> {
        let url = endpoint(&self.server, segments, query);
        let resp = self.send(Method::GET, url, None::<&()>).await?;
        json(resp).await
    }

    /// `POST` without a body (an action) to an API path; the answer's JSON.
    pub async fn post_empty<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, CliError> {
        let url = endpoint(&self.server, segments, &[]);
        let resp = self.send(Method::POST, url, None::<&()>).await?;
        json(resp).await
    }

    /// `POST` JSON to an API path; the answer's JSON.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, CliError> {
        let url = endpoint(&self.server, segments, &[]);
        let resp = self.send(Method::POST, url, Some(body)).await?;
        json(resp).await
    }

    /// `PATCH` JSON to an API path; the answer's JSON.
    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, CliError> {
        let url = endpoint(&self.server, segments, &[]);
        let resp = self.send(Method::PATCH, url, Some(body)).await?;
        json(resp).await
    }

    /// `PUT` JSON to an API path; the answer's JSON.
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, CliError> {
        let url = endpoint(&self.server, segments, &[]);
        let resp = self.send(Method::PUT, url, Some(body)).await?;
        json(resp).await
    }

    /// `DELETE` an API path.
    pub async fn delete(&self, segments: &[&str]) -> Result<(), CliError> {
        let url = endpoint(&self.server, segments, &[]);
        self.send(Method::DELETE, url, None::<&()>).await?;
        Ok(())
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<reqwest::Response, CliError> {
        let mut req = self
            .http
            .request(method, url)
            .header("accept", "application/json");
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| {
            let e = e.without_url();
            let what = if e.is_timeout() {
                "timed out talking to"
            } else {
                "cannot reach"
            };
            CliError::new(
                Exit::Server,
                format!("{what} {}: {}", server_key(&self.server), chain(&e)),
            )
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        if status.is_redirection() {
            let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok());
            return Err(crate::redirect::error(
                &self.server,
                resp.url(),
                status,
                location,
            ));
        }
        let headers = resp.headers().clone();
        Err(crate::api_error::api_error(
            status,
            &headers,
            &resp.bytes().await.unwrap_or_default(),
        ))
    }
}

async fn json<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, CliError> {
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| CliError::new(Exit::Server, format!("reading the answer: {}", chain(&e))))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        CliError::new(
            Exit::Server,
            format!("the server's answer is not the expected JSON: {e}"),
        )
    })
}

/// An error and its sources, without the request URL.
fn chain(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut next: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        next = err.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(s: &str) -> Url {
        parse_server(s).expect("valid server")
    }

    #[test]
    fn servers_must_be_http_urls() {
        assert!(parse_server("http://127.0.0.1:8080").is_ok());
        assert!(parse_server("https://dcs.example/prefix/").is_ok());
        for bad in [
            "",
            "127.0.0.1:8080",
            "ftp://x",
            "mailto:a@b",
            "http://x/?a=1",
        ] {
            assert_eq!(parse_server(bad).expect_err(bad).exit, Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn endpoints_encode_ids_as_one_segment_and_keep_a_prefix() {
        let s = server("http://127.0.0.1:8080");
        assert_eq!(
            endpoint(&s, &["instances", "inst-1"], &[]).as_str(),
            "http://127.0.0.1:8080/api/instances/inst-1"
        );
        assert_eq!(
            endpoint(&s, &["instances", "../../x?y"], &[]).as_str(),
            "http://127.0.0.1:8080/api/instances/..%2F..%2Fx%3Fy"
        );
        assert_eq!(
            endpoint(&s, &["status"], &[("instance_id", "a b&c")]).as_str(),
            "http://127.0.0.1:8080/api/status?instance_id=a+b%26c"
        );
        assert_eq!(
            endpoint(&server("https://h/dcs/"), &["me"], &[]).as_str(),
            "https://h/dcs/api/me"
        );
        assert_eq!(
            endpoint(&server("https://h/dcs"), &["me"], &[]).as_str(),
            "https://h/dcs/api/me"
        );
    }

    #[test]
    fn open_urls_resolve_paths_and_append_the_token() -> Result<(), CliError> {
        let s = server("http://127.0.0.1:8080");
        assert_eq!(
            open_url(&s, "/instances/inst-1/", "abc123")?.as_str(),
            "http://127.0.0.1:8080/instances/inst-1/?tkn=abc123"
        );
        assert_eq!(
            open_url(&s, "https://other.example/i/?x=1", "a+b/c=")?.as_str(),
            "https://other.example/i/?x=1&tkn=a%2Bb%2Fc%3D"
        );
        assert_eq!(server_key(&s), "http://127.0.0.1:8080");
        Ok(())
    }
}
