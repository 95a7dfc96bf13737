//! What a node counts for Prometheus. One [`Metrics`] per node (its own registry, so
//! several nodes in one process — the tests — never mix their figures); the store carries
//! it, so everything holding a `Store` can count. `GET /metrics` renders it
//! ([`Metrics::render`]); docs/OPERATIONS.md lists every series and what it means.
//!
//! Hot paths (an event written to 10,000 sockets) count into thread-local
//! [`prometheus::local`] copies and add them to the shared series once per batch.

use std::time::Duration;

use gonghui_protocol::ClientKind;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets for times from a millisecond to a minute, in seconds.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets for a socket's backlog, in writes waiting.
const WRITES: &[f64] = &[0.0, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0];

/// The node's series.
pub struct Metrics {
    registry: Registry,
    /// Authenticated sessions open, by client kind.
    pub sessions: IntGaugeVec,
    /// Topics held by this node's sessions.
    pub subscriptions: IntGauge,
    /// Topic owners (union and member actors) running.
    pub topic_owners: IntGauge,
    /// Events written to sessions' sockets.
    pub delivered: IntCounter,
    /// Events meant for a session that had closed or was closing (a slow reader closed
    /// with 4008 resumes and reads them from the log).
    pub dropped: IntCounter,
    /// Writes waiting for a socket's kernel buffer, seen after each write to it.
    pub queue_depth: Histogram,
    /// WebSocket sessions ended, by close code.
    pub sessions_closed: IntCounterVec,
    /// From an event's time (set as its transaction writes it) to its write to a socket.
    pub fanout_lag: Histogram,
    /// From an event's time to the bridge hearing it.
    pub bridge_lag: Histogram,
    /// Times the bridge's connection was lost or could not be made.
    pub bridge_reconnects: IntCounter,
    /// HTTP requests answered, by method, route pattern and status.
    pub http_requests: IntCounterVec,
    /// HTTP request time, by method and route pattern.
    pub http_seconds: HistogramVec,
    /// The database pool's connections, by state (`in_use`, `idle`) and its size (`max`).
    pub db_connections: IntGaugeVec,
    /// Calls waiting for a database connection.
    pub db_waiting: IntGauge,
    /// Calls to WeChat, by call and outcome.
    pub wechat_calls: IntCounterVec,
    /// Logins, by method and outcome.
    pub logins: IntCounterVec,
    /// SMS codes asked for, by outcome.
    pub sms: IntCounterVec,
    /// Imports and exports running, by kind.
    pub jobs: IntGaugeVec,
}

/// Long work counted in `gonghui_jobs_running`.
#[derive(Debug, Clone, Copy)]
pub enum Job {
    /// A member list or union tree read into the database.
    Import,
    /// A roster, tree or activity file streamed out.
    Export,
}

impl Job {
    /// Its `kind` label.
    fn label(self) -> &'static str {
        match self {
            Job::Import => "import",
            Job::Export => "export",
        }
    }
}

/// Counts a job as running until dropped.
pub struct Running(IntGauge);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every series, registered and at zero.
    pub fn new() -> Self {
        let registry = Registry::new();
        let reg = Registered(&registry);
        let metrics = Metrics {
            sessions: reg.gauges("gonghui_sessions", "Authenticated WebSocket sessions open, by client kind.", &["client"]),
            subscriptions: reg.gauge("gonghui_subscriptions", "Topics held by this node's sessions."),
            topic_owners: reg.gauge("gonghui_topic_owners", "Topic owners (union and member actors) running on this node."),
            delivered: reg.counter("gonghui_events_delivered_total", "Events written to sessions' sockets."),
            dropped: reg.counter("gonghui_events_dropped_total", "Events meant for a session that had closed or was closing."),
            queue_depth: reg.histogram("gonghui_session_queue_depth", "Writes a socket's kernel buffer could not take yet, seen after each write to it.", WRITES),
            sessions_closed: reg.counters("gonghui_sessions_closed_total", "WebSocket sessions ended, by close code (none: the connection dropped).", &["code"]),
            fanout_lag: reg.histogram("gonghui_fanout_lag_seconds", "Seconds from an event's time (set as its transaction writes it) to its write to a socket.", SECONDS),
            bridge_lag: reg.histogram("gonghui_bridge_lag_seconds", "Seconds from an event's time to the bridge hearing it.", SECONDS),
            bridge_reconnects: reg.counter("gonghui_bridge_reconnects_total", "Times the bridge's connection was lost or could not be made (each followed by a resync)."),
            http_requests: reg.counters("gonghui_http_requests_total", "HTTP requests answered, by method, route pattern and status.", &["method", "route", "status"]),
            http_seconds: reg.histograms("gonghui_http_request_duration_seconds", "HTTP request time, by method and route pattern.", &["method", "route"], SECONDS),
            db_connections: reg.gauges("gonghui_db_pool_connections", "The database pool: connections in use, idle, and its size (max).", &["state"]),
            db_waiting: reg.gauge("gonghui_db_pool_waiting", "Calls waiting for a database connection."),
            wechat_calls: reg.counters("gonghui_wechat_calls_total", "Calls to WeChat, by call and outcome.", &["call", "outcome"]),
            logins: reg.counters("gonghui_logins_total", "Logins, by method and outcome.", &["method", "outcome"]),
            sms: reg.counters("gonghui_sms_codes_total", "SMS codes asked for, by outcome.", &["outcome"]),
            jobs: reg.gauges("gonghui_jobs_running", "Imports and exports running, by kind.", &["kind"]),
            registry,
        };
        // Series a dashboard sums are shown at 0 before their first change.
        for client in [
            ClientKind::Console,
            ClientKind::App,
            ClientKind::Miniprogram,
        ] {
            metrics.sessions.with_label_values(&[client.as_str()]);
        }
        for job in [Job::Import, Job::Export] {
            metrics.jobs.with_label_values(&[job.label()]);
        }
        metrics
    }

    /// Counts `job` as running while the guard lives.
    pub fn running(&self, job: Job) -> Running {
        let gauge = self.jobs.with_label_values(&[job.label()]);
        gauge.inc();
        Running(gauge)
    }

    /// Counts a WeChat call's outcome.
    pub fn wechat_call<T, E: Outcome>(&self, call: &str, result: &Result<T, E>) {
        self.wechat_calls
            .with_label_values(&[call, outcome(result)])
            .inc();
    }

    /// Every series in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("the text encoder writes to memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// An error's short kind, for an `outcome` label (few values, never the message).
pub trait Outcome {
    /// The label value.
    fn outcome(&self) -> &'static str;
}

/// A result as an `outcome` label: `ok`, or the error's kind.
pub fn outcome<T, E: Outcome>(result: &Result<T, E>) -> &'static str {
    result.as_ref().map_or_else(Outcome::outcome, |_| "ok")
}

/// Seconds since `at` (0 when `at` is ahead of this node's clock).
pub fn seconds_since(at: chrono::DateTime<chrono::Utc>) -> f64 {
    (chrono::Utc::now() - at)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// Registers series as they are made; a name registered twice is a bug caught by any test.
struct Registered<'a>(&'a Registry);

impl Registered<'_> {
    fn add<M: prometheus::core::Collector + Clone + 'static>(&self, metric: M) -> M {
        self.0
            .register(Box::new(metric.clone()))
            .expect("each series is registered once");
        metric
    }

    fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.add(IntCounter::new(name, help).expect("a valid name"))
    }

    fn counters(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.add(IntCounterVec::new(Opts::new(name, help), labels).expect("a valid name"))
    }

    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.add(IntGauge::new(name, help).expect("a valid name"))
    }

    fn gauges(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.add(IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid name"))
    }

    fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.add(Histogram::with_opts(opts).expect("a valid name"))
    }

    fn histograms(&self, name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.add(HistogramVec::new(opts, labels).expect("a valid name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_rendered_with_its_help() {
        let metrics = Metrics::new();
        metrics.sessions.with_label_values(&["app"]).inc();
        let _import = metrics.running(Job::Import);
        metrics.running(Job::Export);
        let text = metrics.render();
        assert!(
            text.contains("gonghui_sessions{client=\"app\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gonghui_jobs_running{kind=\"import\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gonghui_jobs_running{kind=\"export\"} 0"),
            "{text}"
        );
        assert!(text.contains("# HELP gonghui_fanout_lag_seconds Seconds from an event's time"));
    }
}
