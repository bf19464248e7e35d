//! The request journal: every request either listener received, in arrival order.

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::faults::Fault;
use crate::route::{Base, Route};

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
    /// The raw request body.
    pub body: Bytes,
    /// The operation the request matched, if any (`None` for a 404).
    pub route: Option<Route>,
    /// The fault injected into this request, if any.
    pub fault: Option<Fault>,
    /// How it ended.
    pub outcome: Outcome,
}

impl RecordedRequest {
    /// The body parsed as JSON, if it is JSON.
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
    /// (for `/api/v1/customers/{customer_id}/` the customer id). Empty when the request
    /// matched no route or its route has no parameter; a segment that is not UTF-8 once
    /// decoded is decoded lossily.
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

    /// The status code the mock answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self.outcome {
            Outcome::Responded(status) => Some(status),
            Outcome::Pending | Outcome::Dropped => None,
        }
    }
}

/// The journal itself; lives behind the server's lock.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    next_seq: u64,
    entries: Vec<RecordedRequest>,
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
    pub(crate) fn record(&mut self, arrival: Arrival) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut headers = arrival.headers;
        headers.remove(http::header::AUTHORIZATION);
        self.entries.push(RecordedRequest {
            seq,
            received_at: Instant::now(),
            base: arrival.base,
            method: arrival.method,
            path: arrival.path,
            query: arrival.query,
            headers,
            body: arrival.body,
            route: None,
            fault: None,
            outcome: Outcome::Pending,
        });
        seq
    }

    fn entry(&mut self, seq: u64) -> Option<&mut RecordedRequest> {
        self.entries.iter_mut().rev().find(|entry| entry.seq == seq)
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
        }
    }

    pub(crate) fn entries(&self) -> &[RecordedRequest] {
        &self.entries
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}
