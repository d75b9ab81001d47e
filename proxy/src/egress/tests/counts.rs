//! `/metrics` of the way out: every connection asked for counted once by outcome,
//! and those open counted until they end.

use super::*;
use crate::egress::EgressCounts;

fn count(counts: &EgressCounts, outcome: &str) -> u64 {
    counts
        .connections
        .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
        .get()
}

#[tokio::test]
async fn connections_are_counted_by_outcome_and_open_while_they_last() {
    let echo = Echo::start().await;
    let port = echo.addr.port();
    let counts = EgressCounts::default();
    let proxy = Proxy::start(allowing(&[format!("127.0.0.1:{port}")]), |e| {
        e.with_counts(counts.clone()).with_max_connections(2)
    });
    for outcome in crate::egress::counts::OUTCOMES {
        assert_eq!(
            count(&counts, outcome),
            0,
            "{outcome} is there from the start"
        );
    }

    let (mut tunnel, head) = proxy.tunnel(&format!("127.0.0.1:{port}")).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    echoes(&mut tunnel, b"ping").await;
    assert_eq!((count(&counts, "connected"), counts.open.get()), (1, 1));

    let answer = proxy.exchange(&connect_close("metadata.example:80")).await;
    assert_eq!(status(&answer), 403, "{answer}");
    let answer = proxy.exchange(&connect_close("nowhere.example:443")).await;
    assert_eq!(status(&answer), 502, "{answer}");
    assert_eq!(
        (count(&counts, "refused"), count(&counts, "failed")),
        (1, 1)
    );

    // The workspace's cap: one tunnel open, one more held, the third turned away.
    let _held = proxy.connect().await;
    let answer = proxy.exchange(&connect_close("metadata.example:80")).await;
    assert_eq!(status(&answer), 503, "{answer}");
    assert_eq!(count(&counts, "overloaded"), 1);

    drop(tunnel);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while counts.open.get() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still open: {}",
            counts.open.get()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(&counts, "connected"), 1, "counted once");
}
