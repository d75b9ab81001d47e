//! An open preview's own traffic (the app's scripts polling its API, a hot-reload
//! client) is watched work, not input: it holds the workspace past the idle timeout,
//! but only within `--busy-max` past the last input, so a tab left open on a
//! polling preview no longer keeps its workspace for ever. (Opening or reloading the
//! preview, a navigation, is input.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dcs_e2e::{client, Fixture};

const TIMEOUT: Duration = Duration::from_secs(6);
const PATIENCE: Duration = Duration::from_secs(120);

#[tokio::test]
async fn a_polling_preview_holds_its_workspace_only_within_the_busy_limit() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| {
        b.arg("--idle-timeout")
            .arg("6s")
            .arg("--busy-max")
            .arg("15s")
    })?;
    let prefix = "/github/acme/hello";
    // The app, started in the workspace as a user would (its terminal).
    let app = dcs_e2e::workspace_echo::head_echo_in_workspace(fx.proxy.addr, prefix, &[]).await?;
    let poll = fx
        .proxy
        .url(&format!("{prefix}/ports/{}/api/poll", app.port()));
    // The page's script: a fetch every 500 ms, as long as the tab is open.
    let answered: Arc<Mutex<Option<Instant>>> = Arc::default();
    let poller = tokio::spawn({
        let answered = answered.clone();
        async move {
            loop {
                let sent = Instant::now();
                let resp = client()
                    .get(&poll)
                    .header("sec-fetch-mode", "cors")
                    .header("sec-fetch-site", "same-origin")
                    .header("sec-fetch-dest", "empty")
                    .send()
                    .await;
                if resp.is_ok_and(|r| r.status() == 200) {
                    *answered.lock().expect("answered") = Some(sent);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    let stopped = fx.wait_for_no_launcher(PATIENCE).await;
    let seen_stopped = Instant::now();
    poller.abort();
    assert!(
        stopped,
        "a tab polling a preview kept the workspace past the busy limit: {}",
        fx.proxy.log()
    );
    // The polls were answered until the stop: one sent less than an idle timeout
    // before it was seen stopped, so as input they would have held it.
    let last = *answered.lock().expect("answered");
    let before_stop = last.map(|sent| seen_stopped - sent);
    assert!(
        before_stop.is_some_and(|d| d < TIMEOUT - Duration::from_secs(1)),
        "the preview was polled until the stop: the last answered poll was sent \
         {before_stop:?} before the stop was seen"
    );
    drop(app);
    Ok(())
}
