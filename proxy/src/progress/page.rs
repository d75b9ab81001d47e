//! The progress page (HTML), its script (served same-origin, no third-party
//! anything) and the JSON answer the script polls. The page holds, hidden, what its
//! script shows when the person's sign-in expires meanwhile ("Sign in again").

use dcs_model::api::{Progress, StartPhase};
use dcs_net::escape::html as esc;
use http::{HeaderValue, Response, StatusCode};

use crate::body::Body;

/// The page's script.
const SCRIPT: &str = include_str!("script.js");

/// What the page may load: its own script and progress answers, nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `progress` as the JSON answer of the progress path.
pub fn json(progress: &Progress) -> Response<Body> {
    let body = serde_json::to_string(progress).unwrap_or_else(|_| "{}".into());
    crate::pages::own(StatusCode::OK, "application/json", body)
}

/// The script.
pub fn script() -> Response<Body> {
    crate::pages::own(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        SCRIPT.to_owned(),
    )
}

/// The page for the workspace under `prefix`, now at `progress`; `containers` picks
/// the phases listed (Knative's, or local processes').
pub fn html(prefix: &str, progress: &Progress, containers: bool) -> Response<Body> {
    let steps: String = StartPhase::steps(containers)
        .iter()
        .map(|s| {
            let name = serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("<li data-step=\"{name}\">{}</li>", esc(s.label()))
        })
        .collect();
    let phase = serde_json::to_value(progress.phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let request_id = crate::telemetry::current_request_id().unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=en data-phase=\"{phase}\" data-progress=\"{url}\">\
         <head><meta charset=utf-8><title>Starting your workspace</title>\
         <meta name=viewport content=\"width=device-width\">\
         <noscript><meta http-equiv=refresh content=5></noscript>\
         <style>body{{font:16px system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}}\
         h1{{font-size:1.4em}}ol{{padding-left:1.4em}}li{{color:#888;margin:.3em 0}}\
         li.done{{color:#222}}li.done::after{{content:\" \\2713\"}}li.now{{color:#222;font-weight:600}}\
         progress{{width:100%}}#failure,#signed-out{{border-left:4px solid #c33;padding:.2em 1em;background:#fdf3f3}}\
         small{{color:#666}}</style>\
         <script src=\"{script}\" defer></script></head>\
         <body><h1>Starting your workspace</h1>\
         <ol id=steps>{steps}</ol>\
         <p id=detail>{detail}</p><progress id=bar max=100 hidden></progress>\
         <div id=failure hidden><p><strong>The workspace could not start:</strong> <span id=reason></span></p>\
         <p id=hint></p></div>\
         <div id=signed-out role=alert hidden><p><strong>Your sign-in expired.</strong> \
         Sign in again to follow the start (it goes on meanwhile). \
         <button type=button id=sign-in-again>Sign in again</button></p></div>\
         <p><small>This page moves on to the workspace by itself when it is ready. \
         request id: <code id=request-id>{rid}</code> · devcontainer-serverless</small></p>\
         </body></html>",
        url = esc(&format!("{prefix}{}", super::PROGRESS_PATH)),
        script = esc(&format!("{prefix}{}", super::SCRIPT_PATH)),
        detail = esc(&progress.line()),
        rid = esc(&request_id),
    );
    let mut resp = crate::pages::own(StatusCode::OK, "text/html; charset=utf-8", body);
    resp.headers_mut()
        .insert("content-security-policy", HeaderValue::from_static(CSP));
    resp
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn the_page_names_its_script_and_endpoint_under_the_prefix_and_allows_nothing_else() {
        let resp = html("/github/acme/hello", &Progress::cloning(1, 4, 10), false);
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .expect("csp");
        assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let body = String::from_utf8(body.to_vec()).expect("utf8");
        assert!(
            body.contains("src=\"/github/acme/hello/_dcs/progress.js\""),
            "{body}"
        );
        assert!(body.contains("data-progress=\"/github/acme/hello/_dcs/progress\""));
        assert!(body.contains("data-phase=\"cloning\"") && body.contains("cloning 25%"));
        assert!(
            body.contains("<div id=signed-out role=alert hidden>")
                && body.contains("<button type=button id=sign-in-again>Sign in again</button>"),
            "what the script shows when the sign-in expires: {body}"
        );
        assert!(!body.contains("http://") && !body.contains("https://"));
    }
}
