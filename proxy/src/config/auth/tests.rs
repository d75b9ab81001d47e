//! Sign-in flag validation: every problem of every mode is listed at once.

use clap::Parser;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    auth: AuthArgs,
}

fn validate(argv: &[&str], listen: &str) -> Result<AuthConfig, Vec<String>> {
    let args = Cli::try_parse_from(std::iter::once("x").chain(argv.iter().copied()))
        .expect("parses")
        .auth;
    let mut problems = Vec::new();
    let listen = listen.parse().expect("listen");
    args.validate(listen, Some("alice"), &mut problems)
        .ok_or(problems)
}

fn joined(r: Result<AuthConfig, Vec<String>>) -> (usize, String) {
    let problems = r.expect_err("invalid");
    (problems.len(), problems.join("\n"))
}

#[test]
fn none_is_refused_off_loopback() {
    assert!(validate(&[], "127.0.0.1:8080").is_ok());
    assert!(validate(&[], "[::1]:8080").is_ok());
    let (n, all) = joined(validate(&["--auth", "none"], "0.0.0.0:8080"));
    assert!(n == 1 && all.contains("loopback"), "{all}");
}

#[test]
fn authentik_needs_an_http_outpost_and_a_sane_ttl() {
    let (n, all) = joined(validate(
        &[
            "--auth",
            "authentik",
            "--auth-cache-ttl",
            "2h",
            "--public-url",
            "ide.example.com",
        ],
        "0.0.0.0:8080",
    ));
    assert_eq!(n, 3, "{all}");
    for needle in [
        "--authentik-outpost-url",
        "--auth-cache-ttl",
        "--public-url",
    ] {
        assert!(all.contains(needle), "missing {needle} in:\n{all}");
    }
    for bad in [
        "https://ak:9443",
        "http://ak:9000/path",
        "ak:9000",
        "http://u:p@ak:9000",
    ] {
        let (_, all) = joined(validate(
            &["--auth", "authentik", "--authentik-outpost-url", bad],
            "0.0.0.0:8080",
        ));
        assert!(all.contains("--authentik-outpost-url"), "{bad}: {all}");
    }
    match validate(
        &[
            "--auth",
            "authentik",
            "--authentik-outpost-url",
            "http://ak-outpost.authentik:9000/",
            "--public-url",
            "https://ide.example.com",
        ],
        "0.0.0.0:8080",
    ) {
        Ok(AuthConfig::Authentik(c)) => {
            assert_eq!(c.outpost_url, "http://ak-outpost.authentik:9000");
            assert_eq!(c.cache_ttl, Duration::from_secs(30));
            assert_eq!(c.public_url.host, "ide.example.com");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn authentik_needs_the_public_url_the_outpost_is_told() {
    // Without it the outpost would be told the client's `Host`: a session of another
    // application on the same outpost, sent with that application's host, would pass.
    for listen in ["0.0.0.0:8080", "127.0.0.1:8080"] {
        let (n, all) = joined(validate(
            &[
                "--auth",
                "authentik",
                "--authentik-outpost-url",
                "http://ak:9000",
            ],
            listen,
        ));
        assert!(n == 1 && all.contains("needs --public-url"), "{all}");
    }
}

#[test]
fn trusted_headers_lists_every_missing_piece_and_bad_cidr() {
    let tmp = tempfile::tempdir().expect("tmp");
    let empty = tmp.path().join("empty");
    std::fs::write(&empty, "\n").expect("write");
    let (n, all) = joined(validate(
        &[
            "--auth",
            "trusted-headers",
            "--jwt-secret-file",
            empty.to_str().expect("utf8"),
            "--trusted-proxies",
            "10.0.0.0/8,not-a-net",
            "--trusted-proxies",
            "300.1.1.1",
        ],
        "0.0.0.0:8080",
    ));
    assert_eq!(n, 5, "{all}");
    for needle in [
        "--jwt-secret-file",
        "empty",
        "--jwt-issuer",
        "--jwt-audience",
        "not-a-net",
        "300.1.1.1",
    ] {
        assert!(all.contains(needle), "missing {needle} in:\n{all}");
    }
    let (_, all) = joined(validate(&["--auth", "trusted-headers"], "0.0.0.0:8080"));
    assert!(all.contains("needs --jwt-secret-file"), "{all}");
}

#[test]
fn a_good_trusted_headers_configuration_resolves() {
    let tmp = tempfile::tempdir().expect("tmp");
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "s3cret\n").expect("write");
    let cfg = validate(
        &[
            "--auth",
            "trusted-headers",
            "--jwt-secret-file",
            secret.to_str().expect("utf8"),
            "--jwt-issuer",
            "https://auth.example.com/application/o/ide/",
            "--jwt-audience",
            "client-id",
            "--trusted-proxies",
            "10.0.0.0/8, 192.168.1.7",
        ],
        "0.0.0.0:8080",
    );
    match cfg {
        Ok(AuthConfig::TrustedHeaders(c)) => {
            assert_eq!(c.jwt.secret.expose(), b"s3cret");
            assert_eq!(c.jwt.audience, "client-id");
            let nets: Vec<String> = c.trusted_proxies.iter().map(ToString::to_string).collect();
            assert_eq!(nets, ["10.0.0.0/8", "192.168.1.7/32"]);
            assert!(
                !format!("{c:?}").contains("s3cret"),
                "the secret is redacted"
            );
        }
        other => panic!("{other:?}"),
    }
}
