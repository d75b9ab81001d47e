//! The transfer child in process (its lines for a real clone) and as the child the
//! unit tests start (see [`TEST_CHILD_NAME`]).

use std::io;

use super::*;
use crate::checkout::protocol::TEST_CHILD_ENV;
use crate::checkout::watchdog::Limits;
use crate::checkout::Outcome;
use crate::fixtures::Upstream;
use crate::trust::test_ca::{serve_https, TestCa};

/// Not a test of its own: the transfer child of the unit tests. It does nothing
/// unless [`TEST_CHILD_ENV`] is set, and then never returns.
#[test]
fn acts_as_the_transfer_child_when_asked() {
    if std::env::var_os(TEST_CHILD_ENV).is_none() {
        return;
    }
    let code = super::main();
    std::process::exit(i32::from(code));
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn lines(out: &Shared) -> Vec<Line> {
    let bytes = out.0.lock().expect("lock").clone();
    String::from_utf8(bytes)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_clone_reports_progress_then_its_outcome() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let request = Request {
        repo: "acme/hello".into(),
        git_base: upstream.base(),
        target: ws.path().join("acme/hello"),
        token_file: None,
        confined: None,
    };
    let out = Shared::default();
    assert!(transfer(&request, Box::new(out.clone())));
    let lines = lines(&out);
    assert!(
        matches!(lines.first(), Some(Line::Progress { op: Op::Clone, counts }) if *counts == Counts::default()),
        "{lines:?}"
    );
    assert_eq!(
        lines.last(),
        Some(&Line::Done {
            outcome: Outcome::Cloned
        })
    );
    assert!(request.target.join("README.md").is_file());
}

#[test]
fn a_failure_is_a_line_with_its_kind() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let request = Request {
        repo: "acme/absent".into(),
        git_base: upstream.base(),
        target: ws.path().join("acme/absent"),
        token_file: None,
        confined: None,
    };
    let out = Shared::default();
    assert!(!transfer(&request, Box::new(out.clone())));
    match lines(&out).last() {
        Some(Line::Failed { kind, message }) => {
            assert_eq!(*kind, FailureKind::NotFound, "{message}");
            assert!(message.contains("acme/absent"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let bad = Request {
        repo: "../etc".into(),
        ..request
    };
    let out = Shared::default();
    assert!(!transfer(&bad, Box::new(out.clone())));
    assert!(matches!(lines(&out).last(), Some(Line::Failed { .. })));
}

#[tokio::test]
async fn the_child_gives_up_when_its_launcher_goes_away() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    // A git server that accepts and never answers: the transfer blocks in a read.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let ws = tempfile::tempdir().expect("tempdir");
    let program = crate::checkout::protocol::Program::this_executable();
    let mut child = tokio::process::Command::new(&program.path)
        .args(&program.args)
        .envs(program.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let request = Request {
        repo: "acme/hello".into(),
        git_base: base,
        target: ws.path().join("acme/hello"),
        token_file: None,
        confined: None,
    };
    let mut line = serde_json::to_vec(&request).expect("json");
    line.push(b'\n');
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&line).await.expect("request");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let started = async {
        while let Some(text) = lines.next_line().await.expect("read") {
            if matches!(serde_json::from_str(&text), Ok(Line::Progress { .. })) {
                return;
            }
        }
        panic!("the child ended before the transfer began");
    };
    tokio::time::timeout(Duration::from_secs(60), started)
        .await
        .expect("the transfer begins");

    drop(stdin); // what the kernel does when the launcher dies
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the child exits once its stdin closes")
        .expect("wait");
    assert_eq!(status.code(), Some(EXIT_ORPHANED));
}

/// `job` run in a transfer child started as `program`; the failure's kind and text.
async fn fails(job: &Job, program: &Program, env: &LauncherEnv) -> (FailureKind, String) {
    let run = crate::checkout::run::run(job, program, Limits::from_env(env), &|_| {});
    match tokio::time::timeout(Duration::from_secs(90), run).await {
        Ok(Err(Error::Checkout { kind, message })) => (kind, message),
        other => panic!("expected a checkout failure, got {other:?}"),
    }
}

/// An HTTPS "git server" signed by `ca` that answers everything 404: libgit2 hears
/// the 404 only once it trusts the server's certificate. Its base URL.
async fn not_found_over_https(ca: &TestCa) -> String {
    let not_found = hyper::service::service_fn(|_req| async {
        let mut res = http::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
        *res.status_mut() = http::StatusCode::NOT_FOUND;
        Ok::<_, std::convert::Infallible>(res)
    });
    serve_https(ca, not_found).await
}

/// A workspace folder, its launcher's environment and its checkout job, for a
/// repository at [`not_found_over_https`] signed by `ca`.
async fn over_https(ca: &TestCa) -> (tempfile::TempDir, LauncherEnv, Job) {
    let base = not_found_over_https(ca).await;
    let ws = tempfile::tempdir().expect("tempdir");
    let env = crate::fixtures::env(&base, ws.path());
    let job = Job::from_env(&env, Arc::new(AtomicBool::new(false))).expect("a repository");
    (ws, env, job)
}

#[tokio::test]
async fn libgit2_in_the_child_trusts_the_extra_ca_through_the_bundle() {
    let ca = TestCa::new("git CA");
    let (ws, mut env, job) = over_https(&ca).await;

    // The child as started before: its OpenSSL knows nothing of the private CA.
    let (kind, message) = fails(&job, &Program::this_executable(), &env).await;
    assert_eq!(kind, FailureKind::Network, "{message}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    // The launcher's bundle without the CA: refused the same way.
    let without = program(&env).await.expect("program");
    let (kind, message) = fails(&job, &without, &env).await;
    assert_eq!(kind, FailureKind::Network, "{message}");

    env.extra_ca_file = Some(ca.write_ca(ws.path()));
    let with = program(&env).await.expect("program");
    let bundle = ws.path().join(".dcs/trust/ca-bundle.pem");
    assert!(
        with.env
            .contains(&("SSL_CERT_FILE".into(), bundle.clone().into_os_string())),
        "{:?}",
        with.env
    );
    let pem = std::fs::read_to_string(&bundle).expect("the bundle is in the config volume");
    assert!(pem.contains(ca.ca_pem.lines().nth(1).expect("base64")));
    let (kind, message) = fails(&job, &with, &env).await;
    assert_eq!(kind, FailureKind::NotFound, "past TLS: {message}");
}

#[tokio::test]
async fn an_unusable_extra_ca_file_fails_the_checkout_naming_it() {
    let ws = tempfile::tempdir().expect("tempdir");
    let mut env = crate::fixtures::env("https://127.0.0.1:9", ws.path());
    let file = ws.path().join("ca.pem");
    std::fs::write(&file, "not a certificate\n").expect("write");
    env.extra_ca_file = Some(file.clone());
    match program(&env).await {
        Err(Error::Checkout { kind, message }) => {
            assert_eq!(kind, FailureKind::Other);
            assert!(
                message.contains(&format!("DCS_EXTRA_CA_FILE={}", file.display()))
                    && message.contains("holds no certificate"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn libgit2_in_the_child_finds_the_extra_ca_in_the_hashed_folder() {
    // As above, but trust comes only from the hashed folder: no PEM file is written,
    // so OpenSSL can only have found the CA under its subject hash.
    let ca = TestCa::new("hashed CA");
    let (ws, env, job) = over_https(&ca).await;
    let trust_dir = ws.path().join("trust");
    let through = |bundle: trust::Bundle| {
        let folder = trust::folder::make(&bundle, &trust_dir).expect("folder");
        let written = trust::Written {
            bundle,
            file: trust_dir.join("never-written.pem"),
            folder: Some(folder),
        };
        let mut program = Program::this_executable();
        program.env.extend(trust::openssl_env(&written));
        program
    };

    let without = through(trust::Bundle::from_sources(None, &[]).expect("bundle"));
    let (kind, message) = fails(&job, &without, &env).await;
    assert_eq!(kind, FailureKind::Network, "{message}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");

    let extra = ca.write_ca(ws.path());
    let with = through(trust::Bundle::from_sources(Some(&extra), &[]).expect("bundle"));
    let (kind, message) = fails(&job, &with, &env).await;
    assert_eq!(kind, FailureKind::NotFound, "past TLS: {message}");
}

#[tokio::test]
async fn a_certificate_planted_beside_the_bundle_file_is_not_trusted() {
    // The trust folder is on the user's volume: a CA put there under its subject
    // hash must not be trusted by a transfer that reads the bundle file.
    let ca = TestCa::new("planted CA");
    let (ws, env, job) = over_https(&ca).await;
    let file_only = program(&env).await.expect("program");
    let der = match ureq::tls::parse_pem(ca.ca_pem.as_bytes()).next() {
        Some(Ok(ureq::tls::PemItem::Certificate(cert))) => cert.der().to_vec(),
        _ => panic!("the test CA's PEM is a certificate"),
    };
    let hash = trust::subject_hash::subject_hash(&der).expect("subject hash");
    let trust_dir = ws.path().join(".dcs/trust");
    std::fs::write(trust_dir.join(format!("{hash:08x}.0")), &ca.ca_pem).expect("plant");

    let (kind, message) = fails(&job, &file_only, &env).await;
    assert_eq!(kind, FailureKind::Network, "{message}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
}

mod roots_later;
