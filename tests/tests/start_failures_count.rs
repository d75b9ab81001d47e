//! What `dcs_workspace_start_failures_total` counts, with a real `dcs-proxy` and git
//! server: a repository that does not exist (anyone can type one) makes nothing, so
//! it is no start failure and no warning, however often it is asked for (the
//! repository check's memory answers the later ones); a workspace that was tried and
//! did not start (its folder holds someone else's files) is one, and a warning.

use dcs_e2e::{client, metric, GitServer, ProxyBuilder, UpstreamRepo};

const FAILURES: &str = "dcs_workspace_start_failures_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_repository_is_no_start_failure_and_a_failed_start_is_one() -> anyhow::Result<()>
{
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("git");
    let _repo = UpstreamRepo::create(&root, "acme/hello", &[("README.md", "hello\n")])?;
    let git = GitServer::start(&root)?;
    let data = tmp.path().join("data");
    // acme/hello's folder in alice's volume holds files of hers that are no checkout:
    // its start is refused, nothing changed.
    let folder = data.join("workspaces/alice/acme/hello");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("notes.txt"), "mine\n")?;
    let mut proxy = ProxyBuilder::new(&data, &git.base_url()).start()?;

    for _ in 0..3 {
        let resp = client()
            .get(proxy.url("/github/acme/missing/"))
            .send()
            .await?;
        assert_eq!(resp.status(), 404, "{}", proxy.log());
    }
    let metrics = proxy.metrics().await?;
    assert_eq!(metric(&metrics, FAILURES), 0, "{metrics}");

    let resp = client()
        .get(proxy.url("/github/acme/hello/"))
        .send()
        .await?;
    assert_eq!(resp.status(), 409, "{}", proxy.log());
    let metrics = proxy.metrics().await?;
    assert_eq!(metric(&metrics, FAILURES), 1, "{metrics}");

    let log = proxy.whole_log();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ")).collect();
    assert!(
        !warnings.iter().any(|l| l.contains("acme/missing")),
        "a missing repository is no warning: {warnings:#?}"
    );
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("acme/hello") && l.contains("failed to start")),
        "a failed start is: {warnings:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(folder.join("notes.txt"))?,
        "mine\n",
        "nothing changed"
    );
    Ok(())
}
