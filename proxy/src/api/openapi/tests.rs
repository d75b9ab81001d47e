//! The OpenAPI document against the handlers' answers.

use std::collections::BTreeSet;

use super::*;

#[test]
fn the_document_is_openapi_3_and_its_paths_are_the_route_table() {
    let doc: serde_json::Value = serde_json::from_str(&json()).expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("ops").keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = super::super::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    assert!(doc["components"]["schemas"]["CreateInstance"].is_object());
}

#[test]
fn every_operation_documents_the_errors_every_request_can_get() {
    let doc: serde_json::Value = serde_json::from_str(&json()).expect("json");
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("ops") {
            let answers = op["responses"].as_object().expect("responses");
            let has = |status: &str| answers.contains_key(status);
            // Sign-in is checked for every route, the origin for every write.
            assert!(has("401"), "{method} {path}: 401");
            if method != "get" {
                assert!(has("403"), "{method} {path}: 403 (another site)");
            }
            // A path parameter that is not UTF-8 once percent-decoded.
            if path.contains('{') {
                assert!(has("400"), "{method} {path}: 400 (a path parameter)");
            }
            // A body: its type, size, pace, syntax and fields.
            if op["requestBody"].is_object() {
                for status in ["400", "408", "413", "415", "422"] {
                    assert!(has(status), "{method} {path}: {status} (a body)");
                }
            }
        }
    }
    let keepalive = &doc["paths"]["/api/instances/{id}/keepalive"]["post"]["responses"];
    let forbidden = keepalive["403"]["description"].as_str().expect("403");
    assert!(!forbidden.contains("Sharing"), "{forbidden}");
    // Reaching the workspace can fail or time out (`Activator::upstream`).
    for status in ["502", "504"] {
        assert!(keepalive[status].is_object(), "keepalive: {status}");
    }
    let create = &doc["paths"]["/api/instances"]["post"]["responses"];
    let forbidden = create["403"]["description"].as_str().expect("403");
    assert!(forbidden.contains("start_failed"), "{forbidden}");
    // Every error body names its request.
    let error = &doc["components"]["schemas"]["ApiError"]["properties"];
    assert!(error["request_id"].is_object(), "ApiError: {error}");
}
