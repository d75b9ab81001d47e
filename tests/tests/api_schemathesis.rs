//! The management API fuzzed from its own OpenAPI document with schemathesis: a real
//! proxy (local mode, `--auth none`, `--ide none`) on loopback, every operation in
//! `/api/openapi.json` called with generated valid and invalid input, and no answer
//! may be a 5xx or break the documented response schema. First the document itself
//! must pass `openapi-spec-validator` (the reference OpenAPI 3.x validator).
//!
//! schemathesis comes from `make api-fuzz-deps` (a pinned version in `.cache/venv`);
//! `make test` passes its path in `SCHEMATHESIS`, and plain `cargo test` looks in
//! `.cache/venv`. Without it the test fails, naming `make api-fuzz-deps`.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use dcs_e2e::browser::{repo_root, required};
use dcs_e2e::{client, Fixture};

/// Environment variable with the path of the `schemathesis` binary.
const SCHEMATHESIS_ENV: &str = "SCHEMATHESIS";
/// Wall-clock bound of the whole run: a guard against a hang, generous enough for a
/// machine loaded by `make test-stress`.
const RUN_LIMIT: Duration = Duration::from_secs(900);
/// What every answer is checked for.
const CHECKS: &str = "not_a_server_error,response_schema_conformance";

#[tokio::test]
async fn the_api_survives_schemathesis() -> anyhow::Result<()> {
    let st = required(
        SCHEMATHESIS_ENV,
        repo_root().join(".cache/venv/bin/schemathesis"),
        "schemathesis",
        "api-fuzz-deps",
    )
    .into_os_string();

    let fx = Fixture::new(|b| b.arg("--auth").arg("none").arg("--ide").arg("none"))?;
    let schema_url = fx.proxy.url("/api/openapi.json");
    let resp = client().get(&schema_url).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let doc: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    assert!(doc["openapi"].is_string(), "not an OpenAPI document: {doc}");

    // Loopback only: no HTTP proxy from the environment, work files in a temp dir.
    let work = tempfile::tempdir()?;
    // The document itself is valid OpenAPI (checked by the reference validator,
    // installed beside schemathesis).
    let validator = std::path::Path::new(&st).with_file_name("openapi-spec-validator");
    let doc_file = work.path().join("openapi.json");
    std::fs::write(&doc_file, serde_json::to_vec(&doc)?)?;
    let checked = tokio::process::Command::new(&validator)
        .arg(&doc_file)
        .output()
        .await
        .with_context(|| {
            format!(
                "starting {} (run `make api-fuzz-deps`)",
                validator.display()
            )
        })?;
    assert!(
        checked.status.success(),
        "the OpenAPI document is not valid:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let args = [
        "run",
        schema_url.as_str(),
        "--checks",
        CHECKS,
        "--max-examples",
        "20",
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--wait-for-schema",
        "30",
        "--generation-database",
        "none",
        "--no-color",
    ];
    let mut cmd = tokio::process::Command::new(&st);
    cmd.args(args)
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("SCHEMATHESIS_TELEMETRY", "false");
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", st.to_string_lossy()))?;
    let shown = format!("{} {}", st.to_string_lossy(), args.join(" "));
    let out = match tokio::time::timeout(RUN_LIMIT, child.wait_with_output()).await {
        Ok(out) => out?,
        // Dropping the future drops the child, which kills it (kill_on_drop).
        Err(_) => bail!(
            "`{shown}` ran longer than {}s; killed. Proxy log:\n{}",
            RUN_LIMIT.as_secs(),
            fx.proxy.log()
        ),
    };
    if !out.status.success() {
        bail!(
            "`{shown}` failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- proxy log (tail)\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&fx.proxy.log(), 200)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    // A run that tested nothing also exits 0: insist that it exercised every operation.
    let ops = doc["paths"].as_object().map_or(0, |paths| {
        paths
            .values()
            .filter_map(|item| item.as_object())
            .flat_map(|item| item.keys())
            .filter(|k| ["get", "put", "post", "delete", "patch"].contains(&k.as_str()))
            .count()
    });
    // Schemathesis leaves out the operation serving the document it reads.
    let tested = number_after(&stdout, "Tested:");
    assert!(
        ops > 1
            && tested == Some(ops - 1)
            && stdout.contains(&format!("Selected: {0}/{0}", ops - 1)),
        "schemathesis did not report exercising all {} operations:\n{stdout}",
        ops - 1
    );
    Ok(())
}

/// The number following `label` in schemathesis' summary.
fn number_after(text: &str, label: &str) -> Option<usize> {
    let rest = &text[text.find(label)? + label.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
