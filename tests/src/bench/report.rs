//! The bench's Markdown: figures per target, ratios to nginx and to direct, and each
//! goal of the issue next to the figures it is judged by, met or not.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::load::Run;
use super::ws::Idle;

/// The targets, in the order they are reported.
pub const TARGETS: [&str; 4] = ["dcs-proxy", "nginx", "direct", HYPER];

/// The HTTP section's reference: hyper and the proxy's upstream pool alone (`dcs-bench-hyper`).
pub const HYPER: &str = "hyper only";
/// The idle WebSockets' row through a sandboxed workspace ([`super::ws::idle_sandboxed`]).
pub const SANDBOXED: &str = "dcs-proxy, sandboxed";

/// Everything measured.
#[derive(Default)]
pub struct Report {
    /// `(body, connections, target)` → the runs of each round.
    pub load: BTreeMap<(String, usize, String), Vec<Run>>,
    /// `(size, target)` → round trips.
    pub echo: BTreeMap<(usize, String), Vec<Duration>>,
    /// `(count, target)` → the idle WebSockets' figures.
    pub idle: BTreeMap<(usize, String), Idle>,
    /// Wake from zero, `none` IDE.
    pub wake_none: Vec<Duration>,
    /// Wake from zero through the proxy, code-server.
    pub wake_code_server: Vec<Duration>,
    /// Bare code-server's start.
    pub bare_code_server: Vec<Duration>,
    /// First opens.
    pub first_open: Vec<Duration>,
    /// `git clone --depth 1`.
    pub clone_shallow: Vec<Duration>,
    /// `git clone`.
    pub clone_full: Vec<Duration>,
    /// Idle RSS (KiB): proxy, launcher, nginx.
    pub idle_rss: [u64; 3],
    /// The descriptors the proxy's tunnels may hold and the limit it follows, as it
    /// logged them.
    pub tunnel_cap: Option<(usize, u64)>,
}

/// The `p` quantile (0..=1) of `values`.
pub fn quantile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median_f(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "**met**"
    } else {
        "**not met**"
    }
}

/// The median figures of one `(body, connections, target)`.
fn summary(runs: &[Run]) -> Run {
    let durations =
        |f: fn(&Run) -> Duration| quantile(&runs.iter().map(f).collect::<Vec<_>>(), 0.5);
    Run {
        rps: median_f(runs.iter().map(|r| r.rps)),
        p50: durations(|r| r.p50),
        p99: durations(|r| r.p99),
        cpu_per_req: durations(|r| r.cpu_per_req),
        requests: runs.iter().map(|r| r.requests).sum(),
        errors: runs.iter().map(|r| r.errors).sum(),
    }
}

impl Report {
    /// The HTTP load section and its goals.
    pub fn load_section(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "| body | conns | target | req/s | ×nginx | ×direct | p50 | p99 | CPU/req | errors |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
        let mut shortfalls = (Vec::new(), Vec::new(), Vec::new());
        let keys: Vec<(String, usize)> = {
            let mut k: Vec<_> = self.load.keys().map(|(b, c, _)| (b.clone(), *c)).collect();
            k.dedup();
            k
        };
        for (body, conns) in keys {
            let of = |t: &str| {
                self.load
                    .get(&(body.clone(), conns, t.to_owned()))
                    .map(|runs| summary(runs))
            };
            let (nginx, direct) = (of("nginx"), of("direct"));
            for target in TARGETS {
                let Some(run) = of(target) else { continue };
                let ratio = |base: Option<Run>| {
                    base.map_or("–".to_owned(), |b| {
                        format!("{:.2}", run.rps / b.rps.max(1e-9))
                    })
                };
                let _ = writeln!(
                    out,
                    "| {body} | {conns} | {target} | {:.0} | {} | {} | {} | {} | {} | {} |",
                    run.rps,
                    ratio(nginx),
                    ratio(direct),
                    ms(run.p50),
                    ms(run.p99),
                    us(run.cpu_per_req),
                    run.errors
                );
                if let (true, Some(n)) = (target == "dcs-proxy", nginx) {
                    let at = format!("{body} c={conns}");
                    if run.rps < n.rps {
                        shortfalls.0.push(format!("{at} ({:.2}×)", run.rps / n.rps));
                    }
                    if run.cpu_per_req > n.cpu_per_req {
                        shortfalls.1.push(format!(
                            "{at} ({} vs {})",
                            us(run.cpu_per_req),
                            us(n.cpu_per_req)
                        ));
                    }
                    if run.p99 > n.p99 {
                        shortfalls
                            .2
                            .push(format!("{at} ({} vs {})", ms(run.p99), ms(n.p99)));
                    }
                }
            }
        }
        let goal = |name: &str, misses: &[String]| {
            if misses.is_empty() {
                format!("- {name}: {}\n", verdict(true))
            } else {
                format!("- {name}: {} at {}\n", verdict(false), misses.join(", "))
            }
        };
        out.push_str("\nGoals:\n");
        out.push_str(&goal(
            "req/s ≥ 1.0× nginx at every concurrency",
            &shortfalls.0,
        ));
        out.push_str(&goal("CPU per request ≤ nginx's", &shortfalls.1));
        out.push_str(&goal("p99 ≤ nginx's", &shortfalls.2));
    }

    /// The WebSocket echo section and its goal.
    pub fn echo_section(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "| message | target | median | p99 | added over direct (median) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        let mut misses = Vec::new();
        let mut sizes: Vec<usize> = self.echo.keys().map(|(s, _)| *s).collect();
        sizes.dedup();
        for size in sizes {
            let of = |t: &str| self.echo.get(&(size, t.to_owned()));
            let direct = of("direct").map_or(Duration::ZERO, |v| quantile(v, 0.5));
            let added = |t: &str| of(t).map(|v| quantile(v, 0.5).saturating_sub(direct));
            for target in TARGETS {
                let Some(times) = of(target) else { continue };
                let _ = writeln!(
                    out,
                    "| {size} B | {target} | {} | {} | {} |",
                    us(quantile(times, 0.5)),
                    us(quantile(times, 0.99)),
                    added(target).map_or("–".into(), us)
                );
            }
            if let (Some(ours), Some(theirs)) = (added("dcs-proxy"), added("nginx")) {
                if ours > theirs {
                    // In µs: a round trip of tens of µs read in ms ties where it missed.
                    misses.push(format!("{size} B ({} vs {})", us(ours), us(theirs)));
                }
            }
        }
        let _ = writeln!(
            out,
            "\nGoal: added round trip ≤ nginx's at every size: {}{}",
            verdict(misses.is_empty()),
            if misses.is_empty() {
                String::new()
            } else {
                format!(" at {}", misses.join(", "))
            }
        );
    }

    /// The idle WebSockets section and its goals.
    pub fn idle_section(&self, out: &mut String) {
        let _ = writeln!(out, "| WebSockets | target | opened | refused | dropped | RSS before | RSS open | RSS after close | per tunnel | kept after close | launcher RSS open |");
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
        let mut notes = Vec::new();
        for ((count, target), idle) in &self.idle {
            let _ = writeln!(
                out,
                "| {count} | {target} | {} | {} | {} | {} KiB | {} KiB | {} KiB | {:.1} KiB | {:.0}% | {} KiB |",
                idle.opened,
                idle.asked - idle.opened,
                idle.dropped,
                idle.before_kib,
                idle.open_kib,
                idle.closed_kib,
                idle.per_tunnel_kib(),
                idle.kept_after_close() * 100.0,
                idle.launcher_open_kib
            );
        }
        for count in [1_000usize, 10_000] {
            let (Some(ours), Some(theirs)) = (
                self.idle.get(&(count, "dcs-proxy".to_owned())),
                self.idle.get(&(count, "nginx".to_owned())),
            ) else {
                continue;
            };
            let drops = ours.asked - ours.opened + ours.dropped;
            notes.push(format!(
                "- {count}: 0 drops: {} ({} refused, {} dropped); RSS per tunnel ≤ nginx's: {} ({:.1} vs {:.1} KiB); \
                 memory back within 10% after close: {} ({:.0}% kept)",
                verdict(drops == 0),
                ours.asked - ours.opened,
                ours.dropped,
                verdict(ours.per_tunnel_kib() <= theirs.per_tunnel_kib()),
                ours.per_tunnel_kib(),
                theirs.per_tunnel_kib(),
                verdict(ours.kept_after_close() <= 0.10),
                ours.kept_after_close() * 100.0
            ));
        }
        let _ = writeln!(out, "\nGoals:\n{}", notes.join("\n"));
        let capped = self
            .idle
            .iter()
            .filter(|((_, target), _)| target == "dcs-proxy")
            .any(|(_, idle)| idle.asked > idle.opened);
        if let (true, Some((descriptors, limit))) = (capped, self.tunnel_cap) {
            // Two each until half are held, then one each (`--websocket-streams auto`).
            let cap = descriptors / 4 + descriptors / 2;
            let _ = writeln!(
                out,
                "\nThe refusals are the proxy's tunnel cap: one process holds two descriptors per \
                 tunnel until tunnels hold half of the {descriptors} they may (a reserve is kept \
                 for everything else), then one (the workspace's side a stream of one HTTP/2 \
                 connection), so under this machine's descriptor limit of {limit} it admits \
                 about {cap} tunnels and answers the rest `503` with `Retry-After`."
            );
        }
    }

    /// Wake, first open and idle RSS.
    pub fn open_section(&self, out: &mut String) {
        let row = |out: &mut String, name: &str, v: &[Duration]| {
            if v.is_empty() {
                let _ = writeln!(out, "| {name} | not measured in this run | | | 0 |");
                return;
            }
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} / {} | {} |",
                ms(quantile(v, 0.5)),
                ms(quantile(v, 0.9)),
                ms(quantile(v, 0.0)),
                ms(quantile(v, 1.0)),
                v.len()
            );
        };
        let _ = writeln!(out, "| what | median | p90 | min / max | runs |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        row(
            out,
            "wake from zero, `none`, request → first byte",
            &self.wake_none,
        );
        row(
            out,
            "wake from zero, code-server, request → first byte",
            &self.wake_code_server,
        );
        row(
            out,
            "bare code-server, start → first byte",
            &self.bare_code_server,
        );
        row(
            out,
            "first open (shallow clone + start, `none`)",
            &self.first_open,
        );
        row(out, "`git clone --depth 1`", &self.clone_shallow);
        row(out, "`git clone`", &self.clone_full);
        // A ratio of medians, `None` when either side was not measured in this run.
        let ratio = |a: &[Duration], b: &[Duration]| {
            (!a.is_empty() && !b.is_empty())
                .then(|| quantile(a, 0.5).as_secs_f64() / quantile(b, 0.5).as_secs_f64().max(1e-9))
        };
        let goal = |r: Option<f64>, limit: f64, also: String| match r {
            Some(r) => format!("{} ({r:.2}×{also})", verdict(r <= limit)),
            None => "not measured in this run".to_owned(),
        };
        let full = ratio(&self.first_open, &self.clone_full)
            .map_or_else(String::new, |r| format!("; {r:.2}× `git clone`"));
        let wake = goal(
            ratio(&self.wake_code_server, &self.bare_code_server),
            1.1,
            String::new(),
        );
        let open = goal(ratio(&self.first_open, &self.clone_shallow), 1.0, full);
        let _ = writeln!(
            out,
            "\nGoals:\n- wake to the first byte of VS Code ≤ 1.1× bare code-server: {wake}\n\
             - first open ≤ 1.0× `git clone --depth 1`: {open}"
        );
        let [proxy, launcher, nginx] = self.idle_rss;
        let _ = writeln!(
            out,
            "\n| idle RSS | KiB |\n|---|---|\n| dcs-proxy (one workspace open) | {proxy} |\n\
             | dcs-launcher (`none` IDE) | {launcher} |\n| nginx (master + workers) | {nginx} |"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_a_run_skipped_are_not_measured_rather_than_met() {
        let ms = |v: u64| Duration::from_millis(v);
        let report = Report {
            first_open: vec![ms(200), ms(210), ms(220)],
            clone_shallow: vec![ms(205), ms(215), ms(225)],
            clone_full: vec![ms(300)],
            ..Report::default()
        };
        let mut out = String::new();
        report.open_section(&mut out);
        assert!(
            out.contains("| wake from zero, `none`, request → first byte | not measured in this run | | | 0 |"),
            "{out}"
        );
        assert!(
            out.contains("≤ 1.1× bare code-server: not measured in this run\n"),
            "{out}"
        );
        assert!(
            out.contains("`git clone --depth 1`: **met** (0.98×; 0.70× `git clone`)"),
            "{out}"
        );
    }

    #[test]
    fn an_echo_missed_by_microseconds_shows_the_digits_that_tell_them_apart() {
        let us = |v: u64| vec![Duration::from_micros(v); 3];
        let mut report = Report::default();
        for (target, median) in [("direct", 50), ("dcs-proxy", 102), ("nginx", 98)] {
            report.echo.insert((32, target.to_owned()), us(median));
        }
        let mut out = String::new();
        report.echo_section(&mut out);
        assert!(
            out.contains("| 32 B | dcs-proxy | 102.0 µs | 102.0 µs | 52.0 µs |"),
            "{out}"
        );
        assert!(
            out.contains("**not met** at 32 B (52.0 µs vs 48.0 µs)"),
            "{out}"
        );
    }
}
