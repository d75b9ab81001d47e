use std::thread;
use std::time::Duration;

use super::*;
use crate::telemetry::test_buffer::Buffer;
use crate::telemetry::{subscriber, LogFormat};

/// Batches into `buf`, one write of it per batch (or line written at once).
fn batches_into(buf: &Buffer, age: Duration) -> Batched {
    let buf = buf.clone();
    Batched::new(age, move |bytes| buf.clone().write_all(bytes))
}

const LONG: Duration = Duration::from_secs(3600);

fn write_line(batched: &Batched, line: &str) {
    batched
        .make_writer()
        .write_all(line.as_bytes())
        .expect("write");
}

/// Runs `f` on a thread of its own (a fresh batch), to its end.
fn on_a_thread(f: impl FnOnce() + Send + 'static) {
    thread::spawn(f).join().expect("thread");
}

#[test]
fn a_thread_that_is_not_a_worker_writes_each_line_at_once() {
    let writes = Buffer::default();
    let batched = batches_into(&writes, LONG);
    let seen = writes.clone();
    on_a_thread(move || {
        for i in 0..3 {
            write_line(&batched, &format!("line {i}\n"));
            assert_eq!(seen.writes().len(), i + 1, "written at once");
        }
    });
}

#[test]
fn a_worker_holds_its_lines_until_it_parks_then_writes_them_in_one_batch() {
    let writes = Buffer::default();
    let batched = batches_into(&writes, LONG);
    let seen = writes.clone();
    on_a_thread(move || {
        worker_parked();
        for i in 0..3 {
            write_line(&batched, &format!("line {i}\n"));
        }
        assert!(seen.writes().is_empty(), "held while the worker has work");
        worker_parked();
        assert_eq!(seen.writes(), vec![b"line 0\nline 1\nline 2\n".to_vec()]);
        worker_parked();
        assert_eq!(seen.writes().len(), 1, "nothing more to write");
    });
}

#[test]
fn batches_are_whole_lines_of_at_most_4_kib_and_a_longer_line_goes_whole() {
    let writes = Buffer::default();
    let batched = batches_into(&writes, LONG);
    let mut lines: Vec<String> = (0..300)
        .map(|i| format!("{i:04} {}\n", "x".repeat(i % 97)))
        .collect();
    let long = format!("{}\n", "y".repeat(3 * BATCH_BYTES));
    lines.insert(150, long.clone());
    let expected = lines.concat();
    on_a_thread(move || {
        worker_parked();
        for line in &lines {
            write_line(&batched, line);
        }
        flush_thread();
    });
    let all = writes.writes();
    assert_eq!(writes.text(), expected, "every line once, in order");
    assert!(all.len() > 3, "{} batches", all.len());
    for batch in &all {
        assert_eq!(batch.last(), Some(&b'\n'), "a batch ends at a line's end");
        if batch.len() > BATCH_BYTES {
            assert_eq!(
                batch,
                long.as_bytes(),
                "only the long line is longer, alone"
            );
        }
    }
}

#[test]
fn a_line_held_longer_than_the_age_is_written_with_the_next_one() {
    let writes = Buffer::default();
    let age = Duration::from_millis(50);
    let batched = batches_into(&writes, age);
    let seen = writes.clone();
    on_a_thread(move || {
        worker_parked();
        write_line(&batched, "first\n");
        thread::sleep(age + Duration::from_millis(10));
        assert!(seen.writes().is_empty(), "nothing writes on its own");
        write_line(&batched, "second\n");
        assert_eq!(seen.writes(), vec![b"first\nsecond\n".to_vec()]);
        write_line(&batched, "third\n");
        assert_eq!(seen.writes().len(), 1, "a fresh line is held again");
    });
    assert_eq!(
        writes.text(),
        "first\nsecond\nthird\n",
        "written as the thread ended"
    );
}

#[test]
fn lines_held_by_a_thread_that_ends_are_written() {
    let writes = Buffer::default();
    let batched = batches_into(&writes, LONG);
    on_a_thread(move || {
        worker_parked();
        write_line(&batched, "last words\n");
    });
    assert_eq!(writes.text(), "last words\n");
}

#[test]
fn a_batch_for_one_sink_is_written_before_a_line_for_another() {
    let (one, two) = (Buffer::default(), Buffer::default());
    let (a, b) = (batches_into(&one, LONG), batches_into(&two, LONG));
    let (seen_one, seen_two) = (one.clone(), two.clone());
    on_a_thread(move || {
        worker_parked();
        write_line(&a, "to one\n");
        write_line(&b, "to two\n");
        assert_eq!(seen_one.text(), "to one\n");
        assert!(seen_two.writes().is_empty());
    });
    assert_eq!(two.text(), "to two\n");
}

#[test]
fn the_log_writes_an_event_as_one_whole_line() {
    // The batches' whole lines rest on tracing-subscriber handing over an event in one
    // `write`: checked here, where an upgrade would change it.
    let writes = Buffer::default();
    let log = subscriber("info", LogFormat::Text, false, batches_into(&writes, LONG));
    tracing::subscriber::with_default(log, || {
        tracing::info!(method = "GET", status = 200u16, path = "/a b", "request");
        tracing::warn!(error = "it \"failed\"", "second");
    });
    let all = writes.writes();
    assert_eq!(all.len(), 2, "{all:?}");
    for line in all {
        let line = String::from_utf8(line).expect("utf8");
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line:?}"
        );
    }
}

#[test]
fn a_runtime_with_the_hooks_writes_every_line_and_loses_none_at_shutdown() {
    let writes = Buffer::default();
    let batched = batches_into(&writes, LONG);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_park(worker_parked)
        .on_thread_stop(flush_thread)
        .build()
        .expect("runtime");
    let lines = |task: usize| (0..10).map(move |i| format!("task {task} line {i}\n"));
    runtime.block_on(async {
        let tasks: Vec<_> = (0..20)
            .map(|task| {
                let batched = batched.clone();
                tokio::spawn(async move {
                    for line in lines(task) {
                        write_line(&batched, &line);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
    });
    // The workers write what they hold once they run out of work.
    let deadline = Instant::now() + Duration::from_secs(30);
    while writes.text().lines().count() < 200 {
        assert!(Instant::now() < deadline, "held: {}", writes.text());
        thread::sleep(Duration::from_millis(5));
    }
    // A line a worker wrote just before the runtime is dropped is not lost.
    runtime.block_on(async {
        let batched = batched.clone();
        tokio::spawn(async move { write_line(&batched, "at shutdown\n") })
            .await
            .expect("task");
    });
    drop(runtime);
    let text = writes.text();
    let mut got: Vec<&str> = text.lines().collect();
    got.sort_unstable();
    let mut want: Vec<String> = (0..20)
        .flat_map(lines)
        .map(|l| l.trim_end().to_owned())
        .collect();
    want.push("at shutdown".to_owned());
    want.sort_unstable();
    assert_eq!(got, want);
}
