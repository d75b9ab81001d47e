//! The validation corpus: bad images, quantities, bounds, env names, unknown fields,
//! wrong types, malformed and oversized bodies, wrong content types — each answered
//! with its status and a message naming the field.

use super::*;

#[tokio::test]
async fn bad_requests_get_the_right_status_and_name_the_field() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--max-memory").arg("4Gi"))?;
    // (body, field that must be named, words the message must contain)
    let invalid: &[(Value, &str, &str)] = &[
        (json!({"base_image": "Ubuntu:LATEST!"}), "base_image", ""),
        (json!({"base_image": ""}), "base_image", ""),
        (json!({"storage": "10TB"}), "storage", "quantity"),
        (json!({"cpu_request": "-1"}), "cpu_request", "quantity"),
        (json!({"cpu_limit": "64"}), "cpu_limit", "maximum of 8"),
        (
            json!({"memory_limit": "8Gi"}),
            "memory_limit",
            "maximum of 4Gi",
        ),
        (json!({"storage": "1Pi"}), "storage", "maximum"),
        (
            json!({"cpu_request": "2", "cpu_limit": "1"}),
            "cpu_request",
            "limit",
        ),
        (json!({"env": {"1BAD": "x"}}), "env.1BAD", "name"),
        (
            json!({"env": {"DCS_REPO": "x"}}),
            "env.DCS_REPO",
            "reserved",
        ),
        (json!({"env": {"A-B": "x"}}), "env.A-B", ""),
        (json!({"repo": "nope"}), "repo", ""),
        (json!({"ide": "emacs"}), "ide", "code-server"),
        (json!({"ide_version": "1 0"}), "ide_version", ""),
        (json!({"user_id": "../x"}), "user_id", ""),
        (json!({"reppo": "acme/hello"}), "reppo", "unknown field"),
        (
            json!({"cpu_limit": 2}),
            "cpu_limit",
            "invalid type: integer",
        ),
        (json!({"env": {"A": 1}}), "env.A", "string"),
        (json!({"env": ["A=1"]}), "env", "object"),
        (json!({"repo": ["acme/hello"]}), "repo", "invalid type"),
        (
            json!({"ide_version": "1", "vscode_version": "1"}),
            "vscode_version",
            "",
        ),
        (json!(["not", "an", "object"]), "body", "object"),
    ];
    for (body, field, words) in invalid {
        let (code, err) = call(post_json(&fx, body)).await?;
        assert_eq!(code, 422, "{body}: {err}");
        assert_eq!(err["error"], "validation_failed", "{body}: {err}");
        assert!(
            error_fields(&err).iter().any(|f| f == field),
            "{body}: {field} not named in {err}"
        );
        let messages = err["fields"].to_string();
        assert!(messages.contains(words), "{body}: {words:?} not in {err}");
    }
    // The alias is accepted.
    let (code, ok) = call(post_json(&fx, &json!({"vscode_version": "1.96.0"}))).await?;
    assert_eq!(code, 201, "{ok}");
    assert_eq!(ok["ide_version"], "1.96.0");

    let url = fx.proxy.url("/api/instances");
    let http = client();
    let raw = |ct: Option<&str>, body: Vec<u8>| {
        let mut r = http.post(&url).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r
    };
    for (req, want, what) in [
        (
            raw(Some("application/json"), b"{\"repo\":".to_vec()),
            400,
            "malformed",
        ),
        (
            raw(Some("application/json"), b"{'a':1}".to_vec()),
            400,
            "malformed",
        ),
        (raw(Some("application/json"), Vec::new()), 400, "empty"),
        (raw(Some("text/plain"), b"{}".to_vec()), 415, "wrong type"),
        (
            raw(Some("application/x-www-form-urlencoded"), b"a=1".to_vec()),
            415,
            "form",
        ),
        (raw(None, b"{}".to_vec()), 415, "no type"),
        (
            raw(
                Some("application/json"),
                format!("{{\"repo\":\"{}\"}}", "a".repeat(200_000)).into_bytes(),
            ),
            413,
            "oversized",
        ),
    ] {
        let (code, err) = call(req.header("accept", "text/html")).await?;
        assert_eq!(code, want, "{what}: {err}");
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {err}"
        );
    }
    // A chunked body over the limit, with no Content-Length: cut off while read.
    let chunks =
        futures_util::stream::iter((0..100).map(|_| Ok::<_, std::io::Error>(vec![b' '; 4096])));
    let (code, err) = call(
        http.post(&url)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks)),
    )
    .await?;
    assert_eq!(
        (code, err["error"].as_str()),
        (413, Some("payload_too_large"))
    );

    // A dot segment under /api: a JSON 400 (raw, as a URL library would resolve it).
    let resp = dcs_e2e::raw_get(fx.proxy.addr, "/api/%2e%2e/instances").await?;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));

    // Routing: JSON 404 / 405 + Allow / 400, even for browsers.
    for (method, path, want) in [
        ("GET", "/api/nope", 404),
        ("GET", "/api", 404),
        ("GET", "/api/instances/inst-0000000000000000", 404),
        ("GET", "/api/instances/NOT_AN_ID", 404),
        ("DELETE", "/api/instances/inst-0000000000000000", 404),
        ("GET", "/api/status?instance_id=inst-0000000000000000", 404),
        ("GET", "/api/status", 400),
        ("GET", "/api/instances?color=blue", 400),
        ("GET", "/api/instances?user_id=..%2Fx", 400),
        ("PUT", "/api/instances", 405),
        ("PATCH", "/api/instances/inst-0000000000000000", 404),
        ("PUT", "/api/instances/inst-0000000000000000", 405),
    ] {
        let req = http
            .request(method.parse()?, fx.proxy.url(path))
            .header("accept", "text/html");
        let resp = req.send().await?;
        let allow = resp.headers().get("allow").cloned();
        let (code, err) = status_json(resp).await?;
        assert_eq!(code, want, "{method} {path}: {err}");
        assert!(err["error"].is_string(), "{method} {path}: {err}");
        if want == 405 {
            let allow = allow.expect("Allow on 405");
            assert!(allow.to_str()?.contains("GET"), "{allow:?}");
        }
    }
    Ok(())
}
