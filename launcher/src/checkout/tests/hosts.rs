//! Where a transfer goes, and what it carries there: the token only to the git
//! base's own scheme, host and port, whatever a redirect says; redirects to another
//! host not followed; the proxy the operator gave the launcher's environment, never
//! one named in the checkout's `.git/config`. Real loopback servers, real libgit2.

use super::*;
use crate::checkout::protocol::Program;
use crate::checkout::watchdog::Limits;

const TOKEN: &str = "s3cret-token";

fn path_of(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("/")
}

fn redirect(location: &str) -> String {
    format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )
}

fn unauthorized() -> String {
    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
     Content-Length: 0\r\nConnection: close\r\n\r\n"
        .to_owned()
}

fn with_token(base: &str, ws: &Path) -> Job {
    let token_file = ws.join("token");
    fs::write(&token_file, format!("{TOKEN}\n")).expect("write");
    let mut job = job(base, ws);
    job.token_file = Some(token_file);
    job
}

fn authorized(head: &str) -> bool {
    head.to_ascii_lowercase().contains("\nauthorization:")
}

#[test]
fn the_token_never_goes_to_another_port_a_redirect_names() {
    // Another port of the same host: libgit2 follows (same host), the token stays.
    let (elsewhere, seen_there) =
        recording_server("127.0.0.1:0", |_, _| unauthorized()).expect("bind");
    let target = elsewhere.clone();
    let (base, seen_here) = recording_server("127.0.0.1:0", move |_, head| {
        redirect(&format!("{target}{}", path_of(head)))
    })
    .expect("bind");
    let ws = tempfile::tempdir().expect("tempdir");
    let job = with_token(&base, ws.path());

    let (kind, message) = failure(checkout(&job));
    assert_eq!(kind, FailureKind::Auth, "{message}");
    assert!(message.contains("the token is sent to"), "{message}");
    assert!(
        message.contains(&elsewhere),
        "names the other server: {message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    let there: Vec<String> = seen_there.try_iter().collect();
    assert!(!there.is_empty(), "the redirect was followed to ask");
    assert!(there.iter().all(|h| !authorized(h)), "{there:?}");
    assert!(seen_here.try_iter().all(|h| !authorized(&h)));
    assert!(!job.target.exists());
}

#[test]
fn a_redirect_to_another_host_is_not_followed() {
    let Some((elsewhere, seen_there)) = recording_server("127.0.0.2:0", |_, _| unauthorized())
    else {
        eprintln!("skipped: 127.0.0.2 cannot be bound here");
        return;
    };
    let target = elsewhere.clone();
    let (base, _seen_here) = recording_server("127.0.0.1:0", move |_, head| {
        redirect(&format!("{target}{}", path_of(head)))
    })
    .expect("bind");
    let ws = tempfile::tempdir().expect("tempdir");
    let job = with_token(&base, ws.path());

    let (_, message) = failure(checkout(&job));
    assert!(message.contains("cannot redirect"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    let there: Vec<String> = seen_there.try_iter().collect();
    assert!(there.is_empty(), "another host was asked: {there:?}");
}

#[test]
fn a_redirect_on_the_same_server_keeps_the_token() {
    let (base, seen) = recording_server("127.0.0.1:0", |me, head| {
        let path = path_of(head);
        if path.starts_with("/moved/") {
            unauthorized()
        } else {
            redirect(&format!("{me}/moved{path}"))
        }
    })
    .expect("bind");
    let ws = tempfile::tempdir().expect("tempdir");
    let job = with_token(&base, ws.path());

    let (kind, message) = failure(checkout(&job));
    assert_eq!(kind, FailureKind::Auth, "{message}");
    assert!(message.contains("rejected the token"), "{message}");
    let expected = format!(
        "Basic {}",
        base64(format!("x-access-token:{TOKEN}").as_bytes())
    );
    let heads: Vec<String> = seen.try_iter().collect();
    assert!(
        heads
            .iter()
            .any(|h| path_of(h).starts_with("/moved/") && h.contains(&expected)),
        "the moved URL got the token: {heads:?}"
    );
}

/// A clone of `upstream` in `ws`, re-pointed at `base` (a server that is not git),
/// with `proxy` named in its `.git/config` both ways git has.
fn checkout_naming_a_proxy(upstream: &Upstream, ws: &Path, base: &str, proxy: &str) -> Job {
    assert_eq!(
        checkout(&job(&upstream.base(), ws)).expect("clone"),
        Outcome::Cloned
    );
    let job = with_token(base, ws);
    git(&job.target, &["remote", "set-url", "origin", &job.url()]);
    git(&job.target, &["config", "http.proxy", proxy]);
    git(&job.target, &["config", "remote.origin.proxy", proxy]);
    job
}

/// A loopback listener that records each connection and closes it.
fn hanging_up() -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if tx.send(()).is_err() {
                return;
            }
            drop(stream);
        }
    });
    (addr.to_string(), rx)
}

#[test]
fn a_proxy_named_in_the_checkouts_configuration_is_not_used_for_tls() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let (git_server, git_saw) = hanging_up();
    let (proxy, proxy_saw) = hanging_up();
    let job = checkout_naming_a_proxy(
        &upstream,
        ws.path(),
        &format!("https://{git_server}"),
        &format!("http://{proxy}"),
    );

    let outcome = checkout(&job).expect("a failed fetch is a warning");
    assert!(matches!(outcome, Outcome::UsedAsIs { .. }), "{outcome:?}");
    assert!(
        proxy_saw.try_recv().is_err(),
        "the checkout's proxy was used"
    );
    assert!(
        git_saw.try_recv().is_ok(),
        "the git server was asked directly"
    );
}

#[tokio::test]
async fn the_proxy_of_the_launchers_environment_is_used_and_the_configured_one_not() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let (git_server, git_saw) = hanging_up();
    let (theirs, theirs_saw) = hanging_up();
    let (ours, ours_saw) = recording_server("127.0.0.1:0", |_, _| {
        "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
    })
    .expect("bind");
    let job = checkout_naming_a_proxy(
        &upstream,
        ws.path(),
        &format!("https://{git_server}"),
        &format!("http://{theirs}"),
    );
    // The operator's proxy, in the environment the transfer child gets.
    let mut program = Program::this_executable();
    for (name, value) in [
        ("https_proxy", ours.as_str()),
        ("no_proxy", "example.invalid"),
        ("NO_PROXY", "example.invalid"),
    ] {
        program.env.push((name.into(), value.into()));
    }
    let env = crate::fixtures::env(&job.git_base, ws.path());
    let run = run::run(&job, &program, Limits::from_env(&env), &|_| {});
    let outcome = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("in time")
        .expect("a failed fetch is a warning");
    assert!(matches!(outcome, Outcome::UsedAsIs { .. }), "{outcome:?}");
    let asked: Vec<String> = ours_saw.try_iter().collect();
    assert!(
        asked
            .iter()
            .any(|h| h.starts_with(&format!("CONNECT {git_server} "))),
        "the environment's proxy tunnels to the git server: {asked:?}"
    );
    assert!(asked.iter().all(|h| !h.contains("s3cret")));
    assert!(
        theirs_saw.try_recv().is_err(),
        "the checkout's proxy was used"
    );
    assert!(git_saw.try_recv().is_err(), "went around the proxy");
}
