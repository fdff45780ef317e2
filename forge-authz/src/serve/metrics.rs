//! Metrics of `serve` in the Prometheus text exposition format (version 0.0.4), without a
//! metrics library: atomic counters, fixed-bucket histograms of atomics, and a fixed array
//! of decision counters indexed by the closed sets of reason codes and statuses.
//!
//! **Where they are served.** Metrics reveal traffic patterns (who is refused, how often,
//! which module runs, how long clones take), so they are never on the public git listener:
//! `GET /metrics` answers only on a separate listener, `serve --metrics-listen ADDR`, which
//! is off by default. Put it on loopback or a management network. That listener has the
//! same HTTP limits as the git one (header deadline, 16 KiB of headers, write deadline, a
//! bounded number of connections) and never reads a request body; anything but
//! `GET /metrics` is `404`. On the git listener `/metrics` is `404` like any other path.
//!
//! **Cardinality.** Every label value comes from a closed set the host knows: the reason
//! and status of a decision are WIT enums decoded by the host (a module cannot invent a
//! reason: anything that does not decode is a `policy-failure`), so the decision counters
//! are a fixed array of at most 34 × 6 × 2 series, and only those that moved are written.
//! The module's SHA-256 and generation are one series each for the live and the shadow
//! module.
//!
//! **Where they live.** The per-server counters and histograms are in
//! [`Counters`] (fed by the decision path and the HTTP layer);
//! the store's query latency is process-wide ([`observe_store_query`]) because the store
//! layer has no handle on the server.
//!
//! The names, labels and meanings are listed in the README (`serve`, "Metrics").

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::live::LivePolicy;
use crate::request::Decided;
use crate::wit;
use forge_authz_fixture::decided::{POLICY_FAILURE_CODE, POLICY_FAILURE_HTTP};
use forge_authz_guest::policy::Reason;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counters exposed by the admin `status` and by `/metrics` (rendered by [`render`]).
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) allowed: AtomicU64,
    pub(crate) denied: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) reloads: AtomicU64,
    pub(crate) refused_reloads: AtomicU64,
    /// Configurations (keys, options) published from the store.
    pub(crate) config_swaps: AtomicU64,
    /// Configurations refused (also counted in `refused_reloads`: a refused swap).
    pub(crate) refused_config_swaps: AtomicU64,
    pub(crate) shadow_requests: AtomicU64,
    pub(crate) shadow_differences: AtomicU64,
    pub(crate) refused_connections: AtomicU64,
    /// Idle or header-pending connections closed to make room for new ones.
    pub(crate) evicted_connections: AtomicU64,
    /// Decisions refused because their decision-log record could not be written.
    pub(crate) decision_log_failures: AtomicU64,
    /// Decisions by reason, status and allow.
    pub(crate) decisions: Decisions,
    /// Time inside `Shared::decide`'s decision path.
    pub(crate) decision_seconds: Histogram,
    /// Whole HTTP requests on the git listener, by route.
    pub(crate) request_seconds: RequestLatency,
}

/// Upper bounds of the latency buckets, microseconds (100 µs to 60 s; `+Inf` is implied).
const BOUNDS_US: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// A latency histogram with fixed buckets ([`BOUNDS_US`]); lock-free.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; the last is `+Inf`).
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    /// Sum of all observations, nanoseconds.
    sum_ns: AtomicU64,
    /// Number of observations.
    count: AtomicU64,
}

impl Histogram {
    /// A histogram with no observations.
    pub const fn new() -> Histogram {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BOUNDS_US.len() + 1],
            sum_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Record one duration.
    pub fn observe(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BOUNDS_US.len());
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The `_bucket`, `_sum` and `_count` lines (`labels`: already escaped `k="v"` pairs,
    /// possibly empty).
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative = cumulative.saturating_add(b.load(Ordering::Relaxed));
            let le = match BOUNDS_US.get(i) {
                Some(&us) => seconds(us as f64 / 1e6),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", seconds(sum));
        // `_count` is the `+Inf` bucket, read once, so a scrape is self-consistent even
        // while observations land.
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// A float as Prometheus reads it (`0.0001`, `1`, `2.5`).
fn seconds(v: f64) -> String {
    format!("{v}")
}

/// Every decision outcome: each policy reason (which fixes its status and allow), then
/// the host's own `policy-failure`.
fn outcomes() -> impl Iterator<Item = Option<Reason>> {
    Reason::ALL.iter().copied().map(Some).chain([None])
}

const CELLS: usize = Reason::ALL.len() + 1;

/// Decisions by outcome: a fixed array over the closed set, so a module cannot add series.
#[derive(Debug)]
pub struct Decisions {
    cells: [AtomicU64; CELLS],
}

impl Default for Decisions {
    fn default() -> Self {
        Decisions {
            cells: [const { AtomicU64::new(0) }; CELLS],
        }
    }
}

impl Decisions {
    fn index(reason: Option<Reason>) -> Option<usize> {
        match reason {
            Some(r) => Reason::ALL.iter().position(|x| *x == r),
            None => Some(Reason::ALL.len()),
        }
    }

    /// Count one decision.
    pub fn record(&self, d: &Decided) {
        let reason = d.verdict;
        if let Some(c) = Self::index(reason).and_then(|i| self.cells.get(i)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many decisions had this outcome (`None`: `policy-failure`).
    pub fn get(&self, reason: Option<Reason>) -> u64 {
        Self::index(reason)
            .and_then(|i| self.cells.get(i))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// Routes of the git listener, for the request latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Git smart HTTP.
    Git,
    /// Forward auth (`/-/auth`).
    Auth,
    /// Anything else (`404`).
    Other,
}

impl Route {
    const ALL: [Route; 3] = [Route::Git, Route::Auth, Route::Other];

    fn label(self) -> &'static str {
        match self {
            Route::Git => "git",
            Route::Auth => "auth",
            Route::Other => "other",
        }
    }
}

/// Whole-request latency of the git listener, by route.
#[derive(Debug, Default)]
pub struct RequestLatency {
    routes: [Histogram; 3],
}

impl RequestLatency {
    /// Record one request, from its headers to the end of its response body.
    pub fn observe(&self, route: Route, elapsed: Duration) {
        if let Some(i) = Route::ALL.iter().position(|r| *r == route)
            && let Some(h) = self.routes.get(i)
        {
            h.observe(elapsed);
        }
    }

    /// The histogram of one route.
    pub fn route(&self, route: Route) -> Option<&Histogram> {
        Route::ALL
            .iter()
            .position(|r| *r == route)
            .and_then(|i| self.routes.get(i))
    }
}

static STORE_QUERY: Histogram = Histogram::new();
static METRICS_REFUSED_CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// Record the latency of one store query (called by the store layer; process-wide).
pub fn observe_store_query(elapsed: Duration) {
    STORE_QUERY.observe(elapsed);
}

/// A connection to the metrics listener was refused (too many open).
pub fn refused_metrics_connection() {
    METRICS_REFUSED_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
}

/// A label value escaped as the exposition format requires: `\` → `\\`, `"` → `\"`,
/// newline → `\n`.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `k="v",k="v"` with every value escaped.
fn labels(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    head(out, name, "counter", help);
    let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
}

fn module_info(out: &mut String, name: &str, p: &crate::live::Published) {
    let _ = writeln!(
        out,
        "{name}{{{}}} 1",
        labels(&[
            ("sha256", p.module.sha256()),
            ("generation", &p.generation.to_string()),
        ])
    );
}

/// A plain counter of [`Counters`]: its name, its help text and the field it reads.
type CounterDef = (&'static str, &'static str, fn(&Counters) -> &AtomicU64);

/// The decision totals, written after the decisions by outcome.
const DECISION_COUNTERS: [CounterDef; 4] = [
    (
        "forge_authz_requests_total",
        "Requests decided (git, forward auth, SSH, and each ref of a push).",
        |c| &c.requests,
    ),
    (
        "forge_authz_allowed_total",
        "Decisions that allowed.",
        |c| &c.allowed,
    ),
    ("forge_authz_denied_total", "Decisions that denied.", |c| {
        &c.denied
    }),
    (
        "forge_authz_policy_failures_total",
        "Decisions that were a policy-failure deny (trap, deadline, store or instance failure).",
        |c| &c.failures,
    ),
];

/// Module and configuration swaps, written after the latency histograms.
const SWAP_COUNTERS: [CounterDef; 4] = [
    (
        "forge_authz_module_swaps_total",
        "Modules published by reload (admin or SIGHUP) or promote.",
        |c| &c.reloads,
    ),
    (
        "forge_authz_module_swaps_refused_total",
        "Swaps refused: a reload, a fleet module or a configuration that failed its checks \
         or could not be read.",
        |c| &c.refused_reloads,
    ),
    (
        "forge_authz_config_swaps_total",
        "Configurations (keys, signing key, options) published from the store.",
        |c| &c.config_swaps,
    ),
    (
        "forge_authz_config_swaps_refused_total",
        "Configurations refused: the running module did not accept them, or they could \
         not be read.",
        |c| &c.refused_config_swaps,
    ),
];

/// Shadow mode, written after the configuration version.
const SHADOW_COUNTERS: [CounterDef; 2] = [
    (
        "forge_authz_shadow_requests_total",
        "Requests the shadow module also decided.",
        |c| &c.shadow_requests,
    ),
    (
        "forge_authz_shadow_differences_total",
        "Shadow decisions that differed from the live one (allow, status or reason).",
        |c| &c.shadow_differences,
    ),
];

/// The exposition text of a server: its counters, its policy and the configuration
/// version it runs.
pub fn render(c: &Counters, policy: &LivePolicy, config_version: i64) -> String {
    let mut out = String::with_capacity(16 * 1024);
    write_modules(&mut out, policy);
    write_decisions(&mut out, c);
    for (name, help, field) in DECISION_COUNTERS {
        counter(&mut out, name, help, field(c));
    }
    write_latencies(&mut out, c);
    for (name, help, field) in SWAP_COUNTERS {
        counter(&mut out, name, help, field(c));
    }
    head(
        &mut out,
        "forge_authz_config_version",
        "gauge",
        "The configuration version (keys, signing key, options) this host runs.",
    );
    let _ = writeln!(out, "forge_authz_config_version {config_version}");
    for (name, help, field) in SHADOW_COUNTERS {
        counter(&mut out, name, help, field(c));
    }
    write_connections(&mut out, c);
    out
}

/// The binary, the live module and the shadow module.
fn write_modules(out: &mut String, policy: &LivePolicy) {
    head(
        out,
        "forge_authz_build_info",
        "gauge",
        "The host binary: its version and the WIT package it speaks.",
    );
    let _ = writeln!(
        out,
        "forge_authz_build_info{{{}}} 1",
        labels(&[
            ("version", env!("CARGO_PKG_VERSION")),
            ("wit", wit::WIT_VERSION),
        ])
    );
    let live = policy.current();
    head(
        out,
        "forge_authz_module_info",
        "gauge",
        "The live policy module: SHA-256 of its bytes and publication generation.",
    );
    module_info(out, "forge_authz_module_info", &live);
    head(
        out,
        "forge_authz_module_generation",
        "gauge",
        "Publication generation of the live policy module (1 for the first).",
    );
    let _ = writeln!(out, "forge_authz_module_generation {}", live.generation);
    head(
        out,
        "forge_authz_shadow_module_info",
        "gauge",
        "The module running in shadow, if any: SHA-256 and shadow generation.",
    );
    if let Some(s) = policy.shadow() {
        module_info(out, "forge_authz_shadow_module_info", &s);
    }
    write_trust(out, policy, &live);
}

/// Module trust (issue 23): whether unsigned modules are accepted, whether the live one
/// is, and its signed version.
fn write_trust(out: &mut String, policy: &LivePolicy, live: &crate::live::Published) {
    use crate::live::Provenance;
    let trust = policy.trust();
    head(
        out,
        "forge_authz_allow_unsigned",
        "gauge",
        "1 when this host accepts modules without a signature (--allow-unsigned).",
    );
    let _ = writeln!(
        out,
        "forge_authz_allow_unsigned {}",
        u8::from(trust.allow_unsigned)
    );
    head(
        out,
        "forge_authz_module_unsigned",
        "gauge",
        "1 when the live module was accepted without a signature.",
    );
    let unsigned = u8::from(live.provenance == Provenance::Unsigned);
    let _ = writeln!(out, "forge_authz_module_unsigned {unsigned}");
    head(
        out,
        "forge_authz_module_signed_version",
        "gauge",
        "The signed version of the live module (0: embedded or unsigned).",
    );
    let version = match &live.provenance {
        Provenance::Signed { version, .. } => *version,
        _ => 0,
    };
    let _ = writeln!(out, "forge_authz_module_signed_version {version}");
}

/// Decisions by outcome: only the series that moved.
fn write_decisions(out: &mut String, c: &Counters) {
    head(
        out,
        "forge_authz_decisions_total",
        "counter",
        "Policy decisions by reason code, status (the HTTP code) and allow.",
    );
    for reason in outcomes() {
        let n = c.decisions.get(reason);
        if n == 0 {
            continue;
        }
        let (code, http, allow) = match reason {
            Some(r) => (r.code(), r.status().http(), r.allows()),
            None => (POLICY_FAILURE_CODE, POLICY_FAILURE_HTTP, false),
        };
        let _ = writeln!(
            out,
            "forge_authz_decisions_total{{{}}} {n}",
            labels(&[
                ("reason", code),
                ("status", &http.to_string()),
                ("allow", if allow { "true" } else { "false" }),
            ])
        );
    }
}

/// The decision, request and store latency histograms.
fn write_latencies(out: &mut String, c: &Counters) {
    head(
        out,
        "forge_authz_decision_duration_seconds",
        "histogram",
        "Time inside the decision path: store facts, the policy, shadow, effects.",
    );
    c.decision_seconds
        .write(out, "forge_authz_decision_duration_seconds", "");
    head(
        out,
        "forge_authz_http_request_duration_seconds",
        "histogram",
        "Whole HTTP requests on the git listener, headers to the end of the response body.",
    );
    for route in Route::ALL {
        if let Some(h) = c.request_seconds.route(route) {
            h.write(
                out,
                "forge_authz_http_request_duration_seconds",
                &labels(&[("route", route.label())]),
            );
        }
    }
    head(
        out,
        "forge_authz_store_query_duration_seconds",
        "histogram",
        "Store queries, as reported by the store layer.",
    );
    STORE_QUERY.write(out, "forge_authz_store_query_duration_seconds", "");
}

/// Connections refused and evicted.
fn write_connections(out: &mut String, c: &Counters) {
    head(
        out,
        "forge_authz_refused_connections_total",
        "counter",
        "Connections refused (503) because the listener, or the peer, had its maximum open, all busy.",
    );
    let _ = writeln!(
        out,
        "forge_authz_refused_connections_total{{listener=\"git\"}} {}",
        c.refused_connections.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "forge_authz_refused_connections_total{{listener=\"metrics\"}} {}",
        METRICS_REFUSED_CONNECTIONS.load(Ordering::Relaxed)
    );
    counter(
        out,
        "forge_authz_evicted_connections_total",
        "Idle or header-pending git connections closed to make room for new ones (connection caps).",
        &c.evicted_connections,
    );
    counter(
        out,
        "forge_authz_decision_log_failures_total",
        "Decisions refused because their record could not be written to the decision log.",
        &c.decision_log_failures,
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    /// A sample: name, label pairs (unescaped), value.
    type Sample = (String, Vec<(String, String)>, f64);

    /// One sample line: `name{labels} value` or `name value`. Label values must be
    /// properly escaped.
    fn parse_sample(line: &str) -> Result<Sample, String> {
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| format!("no value: {line}"))?;
        let name = &line[..name_end];
        let ok_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !ok_name {
            return Err(format!("bad metric name: {line}"));
        }
        let mut it = line[name_end..].chars();
        let mut pairs = Vec::new();
        if line[name_end..].starts_with('{') {
            it.next();
            loop {
                let mut c = it.next().ok_or("unterminated labels")?;
                if c == '}' && pairs.is_empty() {
                    break;
                }
                let mut key = String::new();
                while c != '=' {
                    key.push(c);
                    c = it.next().ok_or("label without =")?;
                }
                let ok_key =
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok_key {
                    return Err(format!("bad label name {key:?}"));
                }
                if it.next() != Some('"') {
                    return Err("label value not quoted".into());
                }
                let mut value = String::new();
                loop {
                    match it.next().ok_or("unterminated label value")? {
                        '"' => break,
                        '\\' => match it.next().ok_or("dangling escape")? {
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            'n' => value.push('\n'),
                            e => return Err(format!("bad escape \\{e}")),
                        },
                        '\n' => return Err("raw newline in label value".into()),
                        c => value.push(c),
                    }
                }
                pairs.push((key, value));
                match it.next() {
                    Some(',') => {}
                    Some('}') => break,
                    other => return Err(format!("after a label: {other:?}")),
                }
            }
        }
        let rest = it.as_str();
        let value = rest
            .strip_prefix(' ')
            .ok_or_else(|| format!("no space before the value: {line}"))?;
        let v = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse::<f64>().map_err(|e| format!("value {v:?}: {e}"))?,
        };
        Ok((name.to_string(), pairs, v))
    }

    /// Every line is a `# HELP`/`# TYPE` comment or a sample; samples follow their TYPE.
    fn check_exposition(text: &str) -> Vec<Sample> {
        assert!(text.ends_with('\n'), "the text ends with a newline");
        let mut typed = std::collections::HashMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(c) = line.strip_prefix("# ") {
                let mut w = c.splitn(3, ' ');
                let (kw, name, rest) = (w.next().unwrap(), w.next().unwrap(), w.next());
                match kw {
                    "HELP" => assert!(rest.is_some_and(|h| !h.is_empty()), "{line}"),
                    "TYPE" => {
                        let kind = rest.unwrap();
                        assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                        assert!(
                            typed.insert(name.to_string(), kind.to_string()).is_none(),
                            "one TYPE per metric: {line}"
                        );
                    }
                    _ => panic!("unknown comment {line}"),
                }
                continue;
            }
            let (name, pairs, v) = parse_sample(line).unwrap_or_else(|e| panic!("{e}"));
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(name.as_str());
            assert!(typed.contains_key(family), "sample before its TYPE: {line}");
            samples.push((name, pairs, v));
        }
        samples
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), r"x\ny");
        let line = format!(
            "m{{{}}} 1",
            labels(&[("reason", "quote\" back\\slash\nnew line"), ("b", "")])
        );
        assert!(!line.contains('\n'));
        let (name, pairs, v) = parse_sample(&line).unwrap();
        assert_eq!(name, "m");
        assert_eq!(v, 1.0);
        assert_eq!(
            pairs,
            vec![
                (
                    "reason".to_string(),
                    "quote\" back\\slash\nnew line".to_string()
                ),
                ("b".to_string(), String::new())
            ]
        );
        // The parser itself refuses what is not escaped.
        assert!(parse_sample("m{a=\"x\"y\"} 1").is_err());
        assert!(parse_sample("m{a=\"x\\q\"} 1").is_err());
        assert!(parse_sample("m 1 2").is_err());
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(3600));
        let mut out = String::new();
        head(&mut out, "t_seconds", "histogram", "test");
        h.write(&mut out, "t_seconds", "route=\"git\"");
        let samples = check_exposition(&out);
        let bucket = |le: &str| {
            samples
                .iter()
                .find(|(n, p, _)| {
                    n == "t_seconds_bucket" && p.iter().any(|(k, v)| k == "le" && v == le)
                })
                .map(|s| s.2)
                .unwrap()
        };
        assert_eq!(bucket("0.0001"), 2.0, "the bound is inclusive");
        assert_eq!(bucket("0.0025"), 2.0);
        assert_eq!(bucket("0.005"), 3.0);
        assert_eq!(bucket("60"), 3.0);
        assert_eq!(bucket("+Inf"), 4.0);
        let count = samples.iter().find(|s| s.0 == "t_seconds_count").unwrap();
        assert_eq!(count.2, 4.0);
        assert_eq!(count.1, vec![("route".into(), "git".into())]);
        let sum = samples.iter().find(|s| s.0 == "t_seconds_sum").unwrap().2;
        assert!((sum - 3600.00315).abs() < 1e-6, "{sum}");
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn decisions_cover_every_reason_and_status() {
        let d = Decisions::default();
        let mut n = 0;
        for reason in outcomes() {
            let i = Decisions::index(reason).unwrap();
            assert!(i < CELLS);
            d.cells[i].fetch_add(1, Ordering::Relaxed);
            n += 1;
        }
        assert_eq!(n, CELLS);
        assert!(
            d.cells.iter().all(|c| c.load(Ordering::Relaxed) == 1),
            "no overlap"
        );
    }

    #[test]
    fn a_server_exposition_parses() {
        if crate::policy::EMBEDDED_POLICY.is_empty() {
            // Built without the guest (FORGE_AUTHZ_SKIP_GUEST_BUILD).
            return;
        }
        let module = crate::policy::PolicyModule::from_bytes(
            crate::policy::EMBEDDED_POLICY,
            crate::policy::Limits::default(),
            crate::policy::EMBEDDED_POLICY_NAME.into(),
        )
        .unwrap();
        let world: crate::World =
            serde_json::from_str(r#"{"keys":[{"id":"k1","secret":"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"}],"signing_key":"k1"}"#)
                .unwrap();
        let live =
            crate::live::LivePolicy::from_module(module, crate::wit::world_config(&world).unwrap());
        let shared =
            crate::serve::enforce::Shared::new("/nonexistent".into(), std::sync::Arc::new(live));
        shared
            .counters
            .decisions
            .record(&crate::request::Decided::failure("x"));
        shared
            .counters
            .request_seconds
            .observe(Route::Auth, Duration::from_millis(2));
        let text = render(&shared.counters, &shared.live, shared.config_version());
        let samples = check_exposition(&text);
        let find = |name: &str| {
            samples
                .iter()
                .filter(|s| s.0 == name)
                .cloned()
                .collect::<Vec<_>>()
        };
        let info = find("forge_authz_module_info");
        assert_eq!(info.len(), 1);
        let sha = &info[0].1.iter().find(|(k, _)| k == "sha256").unwrap().1;
        assert_eq!(sha.len(), 64);
        assert_eq!(sha, crate::policy::EMBEDDED_POLICY_DIGEST);
        let d = find("forge_authz_decisions_total");
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].1,
            vec![
                ("reason".to_string(), "policy-failure".to_string()),
                ("status".to_string(), "503".to_string()),
                ("allow".to_string(), "false".to_string())
            ]
        );
        let auth = find("forge_authz_http_request_duration_seconds_count");
        assert_eq!(auth.len(), 3);
        assert!(
            auth.iter()
                .any(|s| s.2 == 1.0 && s.1 == vec![("route".to_string(), "auth".to_string())])
        );
        assert!(find("forge_authz_shadow_module_info").is_empty());
        // issue 19 item 3: the configuration a host runs, and its refused swaps.
        let version = find("forge_authz_config_version");
        assert_eq!(version.len(), 1);
        assert_eq!(version[0].2, 0.0, "no configuration version applied yet");
        for name in [
            "forge_authz_config_swaps_total",
            "forge_authz_config_swaps_refused_total",
        ] {
            assert_eq!(find(name).len(), 1, "{name}");
        }
    }
}
