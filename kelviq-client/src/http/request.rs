//! One API call, described before it is sent.

use http::Method;
use serde::Serialize;

use crate::error::{Error, Result};

/// Which base URL a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// The API host.
    Api,
    /// The edge host (entitlements).
    Edge,
}

/// A request: where it goes, what it carries, and whether it may be replayed.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The operation, for spans (`customers.retrieve`).
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    pub(crate) base: Base,
    /// The path template, for spans and errors (`/customers/{customer_id}/`).
    pub(crate) template: &'static str,
    /// The encoded path below `/api/<version>`, starting with `/`.
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
    /// Whether replaying the request after an unknown outcome is safe.
    pub(crate) replay_safe: bool,
    /// No attempt lasts, and no retry starts, past this instant.
    pub(crate) deadline: Option<tokio::time::Instant>,
    /// Whether the client's [`RetryPolicy`](crate::RetryPolicy) applies (else one attempt).
    pub(crate) retry: bool,
    /// Whether a refusal with `Retry-After` is waited out and retried (`false`: it is
    /// returned at once, for callers that turn it into a backoff of their own).
    pub(crate) wait_retry_after: bool,
}

impl Request {
    /// A request whose path has no parameter.
    pub(crate) fn new(
        operation: &'static str,
        method: Method,
        base: Base,
        template: &'static str,
    ) -> Self {
        let replay_safe = method == Method::GET || method == Method::DELETE;
        Request {
            operation,
            method,
            base,
            template,
            path: template.to_owned(),
            query: Vec::new(),
            body: None,
            replay_safe,
            deadline: None,
            retry: true,
            wait_retry_after: true,
        }
    }

    /// A request whose path is built from its template and encoded segments.
    pub(crate) fn with_path(mut self, path: String) -> Self {
        self.path = path;
        self
    }

    /// Adds a query parameter when `value` is `Some`.
    pub(crate) fn query(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.to_string()));
        }
        self
    }

    /// Serializes `body` as the JSON body.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] if it cannot be serialized (a non-finite number, say).
    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self> {
        let bytes = serde_json::to_vec(body)
            .map_err(|error| Error::validation("body", error.to_string()))?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Bounds the whole call, retries included, by `deadline` (if any).
    pub(crate) fn deadline(mut self, deadline: Option<tokio::time::Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Whether a refusal with `Retry-After` is waited out (default) or returned at once.
    pub(crate) fn wait_retry_after(mut self, wait: bool) -> Self {
        self.wait_retry_after = wait;
        self
    }

    /// Whether the client's retry policy applies (`false`: one attempt only, for callers
    /// with their own bookkeeping and a deadline to keep, like the usage meter's shutdown).
    pub(crate) fn retry(mut self, retry: bool) -> Self {
        self.retry = retry;
        self
    }

    /// Marks the request as safe to replay (it carries an idempotency key).
    pub(crate) fn replay_safe(mut self) -> Self {
        self.replay_safe = true;
        self
    }
}
