//! `authentik/blueprint.yaml` against Authentik's blueprint JSON schema
//! (`../shared/reference/authentik/blueprint-schema.json`, authentik 2024.12.2), plus
//! the facts the proxy relies on: forward_single with header auth, the application
//! uses the provider, only the dcs groups may sign in, the embedded outpost serves
//! the provider. Negative tests prove the validation bites.
//!
//! Blueprints use custom YAML tags; [`tags`] explains how they are resolved to
//! typed placeholders before validation, [`yaml`] how the YAML is read with tags.

mod tags;
mod yaml;

use std::path::Path;

use jsonschema::error::ValidationErrorKind;
use serde_json::{json, Value};

use tags::{Converter, Mode};
use yaml::load_yaml;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn blueprint_text() -> String {
    read("../authentik/blueprint.yaml")
}

fn schema() -> Value {
    serde_json::from_str(&read(
        "../../shared/reference/authentik/blueprint-schema.json",
    ))
    .expect("schema is JSON")
}

/// Every problem with `text`: tag resolution, then JSON schema errors.
fn check(text: &str) -> Result<Value, Vec<String>> {
    let schema = schema();
    let root = load_yaml(text).map_err(|e| vec![e])?;
    let doc = Converter::new(Mode::Resolve, &root, &schema)
        .and_then(|mut c| c.document(&root))
        .map_err(|e| vec![e])?;
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    let mut problems: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| match e.kind() {
            ValidationErrorKind::OneOfNotValid { .. } => {
                format!("{}: matches no model's entry schema", e.instance_path())
            }
            _ => format!("{}: {e}", e.instance_path()),
        })
        .collect();
    // oneOf errors say little: name the offending fields per entry.
    for (i, entry) in doc["entries"].as_array().into_iter().flatten().enumerate() {
        let model = entry["model"].as_str().unwrap_or_default();
        let sub = json!({ "$defs": schema["$defs"], "$ref": format!("#/$defs/model_{model}") });
        let Ok(v) = jsonschema::draft7::options()
            .should_validate_formats(true)
            .build(&sub)
        else {
            continue;
        };
        for part in ["attrs", "identifiers"] {
            if let Some(value) = entry.get(part) {
                problems.extend(
                    v.iter_errors(value)
                        .map(|e| format!("entries/{i}/{part}{}: {e}", e.instance_path())),
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(doc)
    } else {
        Err(problems)
    }
}

fn shown() -> Value {
    let root = load_yaml(&blueprint_text()).expect("YAML");
    let mut c = Converter::new(Mode::Show, &root, &schema()).expect("converter");
    c.document(&root).expect("convert")
}

fn entry<'a>(doc: &'a Value, model: &str, key: &str, value: &str) -> &'a Value {
    doc["entries"]
        .as_array()
        .and_then(|es| {
            es.iter()
                .find(|e| e["model"] == model && e["identifiers"][key] == value)
        })
        .unwrap_or_else(|| panic!("no {model} entry with {key} = {value}"))
}

#[test]
fn blueprint_is_valid_against_authentik_schema() {
    if let Err(problems) = check(&blueprint_text()) {
        panic!("authentik/blueprint.yaml:\n{}", problems.join("\n"));
    }
}

#[test]
fn provider_is_forward_single_with_header_auth_and_default_flows() {
    let doc = shown();
    let p = entry(
        &doc,
        "authentik_providers_proxy.proxyprovider",
        "name",
        "devcontainer-serverless",
    );
    let attrs = &p["attrs"];
    assert_eq!(attrs["mode"], "forward_single");
    assert_eq!(attrs["intercept_header_auth"], true);
    assert_eq!(attrs["external_host"], json!({"!Context": "external_host"}));
    assert_eq!(doc["context"]["external_host"], "https://ide.example.com");
    let flow = |slug: &str| json!({"!Find": ["authentik_flows.flow", ["slug", slug]]});
    assert_eq!(
        attrs["authorization_flow"],
        flow("default-provider-authorization-implicit-consent")
    );
    assert_eq!(
        attrs["invalidation_flow"],
        flow("default-provider-invalidation-flow")
    );
}

#[test]
fn application_uses_the_provider_and_admits_only_the_dcs_groups() {
    let doc = shown();
    let provider = entry(
        &doc,
        "authentik_providers_proxy.proxyprovider",
        "name",
        "devcontainer-serverless",
    );
    let app = entry(
        &doc,
        "authentik_core.application",
        "slug",
        "devcontainer-serverless",
    );
    assert_eq!(app["attrs"]["provider"], json!({"!KeyOf": provider["id"]}));
    for group in ["dcs-users", "dcs-admins"] {
        let g = entry(&doc, "authentik_core.group", "name", group);
        let bound = doc["entries"].as_array().into_iter().flatten().any(|e| {
            e["model"] == "authentik_policies.policybinding"
                && e["identifiers"]["target"] == json!({"!KeyOf": app["id"]})
                && e["identifiers"]["group"] == json!({"!KeyOf": g["id"]})
        });
        assert!(bound, "{group} is not bound to the application");
    }
}

#[test]
fn embedded_outpost_serves_the_provider() {
    let doc = shown();
    let provider = entry(
        &doc,
        "authentik_providers_proxy.proxyprovider",
        "name",
        "devcontainer-serverless",
    );
    let outpost = entry(
        &doc,
        "authentik_outposts.outpost",
        "managed",
        "goauthentik.io/outposts/embedded",
    );
    let providers = outpost["attrs"]["providers"]
        .as_array()
        .expect("providers list");
    assert!(
        providers.contains(&json!({"!KeyOf": provider["id"]})),
        "{providers:?}"
    );
    assert_eq!(
        outpost["conditions"],
        json!([{"!Context": "manage_embedded_outpost"}])
    );
}

/// Applies a textual edit that must hit exactly once, then returns the problems.
fn problems_after(from: &str, to: &str) -> Vec<String> {
    let text = blueprint_text();
    assert_eq!(
        text.matches(from).count(),
        1,
        "edit target {from:?} must occur once"
    );
    match check(&text.replacen(from, to, 1)) {
        Ok(_) => panic!("{from:?} → {to:?} must be rejected"),
        Err(problems) => problems,
    }
}

#[test]
fn validation_rejects_an_invalid_mode() {
    let problems = problems_after("mode: forward_single", "mode: forward_everything");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("attrs/mode") && p.contains("forward_everything")),
        "{problems:#?}"
    );
}

#[test]
fn validation_rejects_a_reference_of_the_wrong_key_type() {
    // A group's key is a UUID; an application's provider is an integer.
    let problems = problems_after(
        "provider: !KeyOf dcs-provider",
        "provider: !KeyOf dcs-users",
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("attrs/provider") && p.contains("integer")),
        "{problems:#?}"
    );
}

#[test]
fn validation_rejects_broken_references_and_shapes() {
    let p = problems_after("provider: !KeyOf dcs-provider", "provider: !KeyOf nope");
    assert!(p[0].contains("no entry has this id"), "{p:?}");
    let p = problems_after("- !KeyOf dcs-provider", "- !KeyOf dcs-outpost-later");
    assert!(p[0].contains("no entry has this id"), "{p:?}");
    let p = problems_after(
        "[authentik_flows.flow, [slug, default-provider-invalidation-flow]]",
        "[authentik_flows.flows, [slug, x]]",
    );
    assert!(p[0].contains("unknown model"), "{p:?}");
    let p = problems_after(
        "external_host: !Context external_host",
        "external_host: !Context missing_key",
    );
    assert!(p[0].contains("missing_key"), "{p:?}");
    let p = problems_after("slug: devcontainer-serverless", "slug: \"not a slug!\"");
    assert!(!p.is_empty());
    let p = problems_after(
        "  - model: authentik_core.group\n    id: dcs-admins",
        "  - model: authentik_core.nothing\n    id: dcs-admins",
    );
    assert!(!p.is_empty());
}
