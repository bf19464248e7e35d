//! The request journal: the requests either listener received, in arrival order, as a
//! bounded ring (the oldest entries are dropped first) with bodies truncated to a bound.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::faults::Fault;
use crate::route::{ApiVersion, Base, Route};

/// How a recorded request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Still being handled, or abandoned by the client before the mock answered.
    Pending,
    /// Answered with this status code.
    Responded(u16),
    /// The connection was closed without a response (an injected fault).
    Dropped,
}

/// How many requests the journal keeps by default
/// ([`MockServerBuilder::journal_capacity`](crate::MockServerBuilder::journal_capacity)).
pub const DEFAULT_JOURNAL_CAPACITY: usize = 10_000;

/// How many bytes of each request body the journal keeps by default, 64 KiB
/// ([`MockServerBuilder::journal_body_limit`](crate::MockServerBuilder::journal_body_limit)).
pub const DEFAULT_JOURNAL_BODY_LIMIT: usize = 64 * 1024;

/// The header a client names its instance with (`kelviq-client` sends it on every
/// request: `KelviqBuilder::instance_name`, default `<process id>@<host name>`), so that
/// the journal and the console can tell several instances of an app apart. Not part of
/// Kelviq's API: the mock records it and never requires it.
pub const CLIENT_INSTANCE_HEADER: &str = "x-kelviq-client-instance";

/// One request as the mock received it. The `Authorization` header is never recorded.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Arrival order, from 0, across both listeners.
    pub seq: u64,
    /// When the request arrived.
    pub received_at: Instant,
    /// The listener that received it.
    pub base: Base,
    /// The HTTP method.
    pub method: Method,
    /// The path exactly as sent, still percent-encoded.
    pub path: String,
    /// The raw query string (without `?`), if any.
    pub query: Option<String>,
    /// The request headers, without `Authorization`.
    pub headers: HeaderMap,
    /// The raw request body, or its first
    /// [`journal_body_limit`](crate::MockServerBuilder::journal_body_limit) bytes (64 KiB by
    /// default) when it is longer: see [`body_len`](Self::body_len).
    pub body: Bytes,
    /// The length of the body as received; more than `body.len()` when the journal
    /// truncated it. (The route itself always sees the whole body.)
    pub body_len: usize,
    /// The operation the request matched, if any (`None` for a 404).
    pub route: Option<Route>,
    /// The fault injected into this request, if any.
    pub fault: Option<Fault>,
    /// How it ended.
    pub outcome: Outcome,
    /// How long the mock took from arrival to its answer (or to dropping the connection),
    /// injected latency included; `None` while [`Outcome::Pending`].
    pub latency: Option<Duration>,
}

impl RecordedRequest {
    /// Whether the journal kept only the start of the body.
    pub fn body_truncated(&self) -> bool {
        self.body_len > self.body.len()
    }

    /// The body parsed as JSON, if it is JSON (never for a truncated body).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The query string decoded into name/value pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .map(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The path parameters of the matched route, percent-decoded, in template order
    /// (for `/api/v1/customers/{customer_id}/`, or the same path under another version, the
    /// customer id). Empty when the request matched no route or its route has no
    /// parameter; a segment that is not UTF-8 once decoded is decoded lossily.
    pub fn path_params(&self) -> Vec<String> {
        let Some(route) = self.route else {
            return Vec::new();
        };
        route
            .path_template()
            .split('/')
            .zip(self.path.split('/'))
            .filter(|(template, _)| template.starts_with('{'))
            .map(|(_, raw)| {
                percent_encoding::percent_decode_str(raw)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect()
    }

    /// The API version of the path (`/api/v2/...` → [`ApiVersion::V2`]), `None` when the
    /// path names no version the mock serves (such a request is a 404).
    pub fn api_version(&self) -> Option<ApiVersion> {
        ApiVersion::of_path(&self.path)
    }

    /// The client instance that sent the request: its [`CLIENT_INSTANCE_HEADER`], when it
    /// sent one that is text.
    pub fn client_instance(&self) -> Option<&str> {
        self.headers
            .get(CLIENT_INSTANCE_HEADER)
            .and_then(|value| value.to_str().ok())
    }

    /// The status code the mock answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self.outcome {
            Outcome::Responded(status) => Some(status),
            Outcome::Pending | Outcome::Dropped => None,
        }
    }
}

/// The journal itself; lives behind the server's lock.
///
/// A ring of at most `capacity` entries: recording one more drops the oldest. Sequence
/// numbers of the kept entries are consecutive, so an entry is found by arithmetic.
#[derive(Debug)]
pub(crate) struct Journal {
    next_seq: u64,
    capacity: usize,
    body_limit: usize,
    dropped: u64,
    entries: VecDeque<RecordedRequest>,
}

impl Default for Journal {
    fn default() -> Self {
        Journal::new(DEFAULT_JOURNAL_CAPACITY, DEFAULT_JOURNAL_BODY_LIMIT)
    }
}

/// What the journal needs to know of an arriving request.
pub(crate) struct Arrival {
    pub(crate) base: Base,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Journal {
    pub(crate) fn new(capacity: usize, body_limit: usize) -> Self {
        Journal {
            next_seq: 0,
            capacity,
            body_limit,
            dropped: 0,
            // Grows as requests arrive, up to `capacity`.
            entries: VecDeque::new(),
        }
    }

    pub(crate) fn record(&mut self, arrival: Arrival) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        if self.capacity == 0 {
            self.dropped = self.dropped.saturating_add(1);
            return seq;
        }
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        let mut headers = arrival.headers;
        headers.remove(http::header::AUTHORIZATION);
        let body_len = arrival.body.len();
        let body = if body_len > self.body_limit {
            // A copy, not `slice`: a slice would keep the whole received buffer alive.
            Bytes::copy_from_slice(arrival.body.get(..self.body_limit).unwrap_or_default())
        } else {
            arrival.body
        };
        self.entries.push_back(RecordedRequest {
            seq,
            received_at: Instant::now(),
            base: arrival.base,
            method: arrival.method,
            path: arrival.path,
            query: arrival.query,
            headers,
            body,
            body_len,
            route: None,
            fault: None,
            outcome: Outcome::Pending,
            latency: None,
        });
        seq
    }

    fn entry(&mut self, seq: u64) -> Option<&mut RecordedRequest> {
        let first = self.entries.front()?.seq;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.entries.get_mut(index)
    }

    pub(crate) fn set_route(&mut self, seq: u64, route: Route, fault: Option<Fault>) {
        if let Some(entry) = self.entry(seq) {
            entry.route = Some(route);
            entry.fault = fault;
        }
    }

    pub(crate) fn set_outcome(&mut self, seq: u64, outcome: Outcome) {
        if let Some(entry) = self.entry(seq) {
            entry.outcome = outcome;
            entry.latency = Some(entry.received_at.elapsed());
        }
    }

    /// The kept entries, oldest first (`.rev()` for newest first).
    pub(crate) fn entries(&self) -> impl DoubleEndedIterator<Item = &RecordedRequest> {
        self.entries.iter()
    }

    /// How many entries are kept.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// How many entries were dropped (or never kept) because the journal was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}
