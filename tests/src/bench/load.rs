//! HTTP load: `wrk` (keep-alive connections, latency percentiles) against each
//! target in turn, the CPU time the target's processes spent meanwhile read from
//! `/proc`, so that each figure is req/s, p50, p99 and CPU per request.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use super::scene::cpu_secs;

/// One `wrk` run's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    /// Requests per second.
    pub rps: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// CPU time of the target's processes per request.
    pub cpu_per_req: Duration,
    /// Requests completed.
    pub requests: u64,
    /// Non-2xx answers and socket errors.
    pub errors: u64,
}

/// The `wrk` executable; missing, the bench fails naming the make target.
pub fn wrk_bin() -> anyhow::Result<&'static str> {
    let found = Command::new("wrk").arg("--version").output().is_ok();
    if !found {
        bail!("wrk is not installed: run `make bench-deps` (or `make bench`)");
    }
    Ok("wrk")
}

/// Runs `wrk` with `connections` for `secs` against `url` (with `headers`,
/// `name: value` each), measuring the CPU of `pids`.
pub fn run(
    url: &str,
    headers: &[String],
    connections: usize,
    secs: u64,
    pids: &[u32],
) -> anyhow::Result<Run> {
    let threads = connections.clamp(1, 2);
    let before = cpu_secs(pids);
    let out = Command::new(wrk_bin()?)
        .args(["-t", &threads.to_string()])
        .args(["-c", &connections.to_string()])
        .args(["-d", &format!("{secs}s")])
        .args(headers.iter().flat_map(|h| ["-H", h.as_str()]))
        .args(["--timeout", "10s", "--latency", url])
        .output()
        .context("running wrk")?;
    let cpu = cpu_secs(pids) - before;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut run = parse(&text).with_context(|| format!("unreadable wrk output:\n{text}"))?;
    if run.requests > 0 {
        run.cpu_per_req = Duration::from_secs_f64(cpu.max(0.0) / run.requests as f64);
    }
    Ok(run)
}

/// The figures of `wrk --latency` output.
pub fn parse(text: &str) -> Option<Run> {
    let mut run = Run::default();
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => run.rps = v.parse().ok()?,
            (Some("50%"), Some(v)) => run.p50 = duration(v)?,
            (Some("99%"), Some(v)) => run.p99 = duration(v)?,
            (Some(n), Some("requests")) => run.requests = n.parse().ok()?,
            (Some("Non-2xx"), _) => {
                run.errors += line.rsplit(' ').next()?.parse::<u64>().ok()?;
            }
            (Some("Socket"), Some("errors:")) => {
                run.errors += line
                    .split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    (run.requests > 0).then_some(run)
}

/// `1.23ms`, `456.78us`, `1.01s`, `2.00m` as a duration.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = text.split_at(split);
    let value: f64 = value.parse().ok()?;
    let secs = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let text = "Running 3s test @ http://127.0.0.1:1/x\n  2 threads and 16 connections\n\
  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   1.10ms  300.00us   9.00ms   90.00%\n\
  Latency Distribution\n     50%  1.02ms\n     75%  1.20ms\n     90%  1.50ms\n     99%    2.50ms\n\
  43210 requests in 3.00s, 50.00MB read\n  Socket errors: connect 0, read 1, write 0, timeout 2\n\
  Non-2xx or 3xx responses: 4\nRequests/sec:  14403.33\nTransfer/sec:     16.67MB\n";
        let run = parse(text).expect("parsed");
        assert_eq!(run.requests, 43210);
        assert!((run.rps - 14403.33).abs() < 0.01);
        assert_eq!(run.p50, Duration::from_micros(1020));
        assert_eq!(run.p99, Duration::from_micros(2500));
        assert_eq!(run.errors, 7);
        assert_eq!(duration("456.78us"), Some(Duration::from_nanos(456_780)));
    }
}
