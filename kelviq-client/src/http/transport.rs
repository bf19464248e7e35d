//! Sending a [`Request`]: URL, headers, timeout, retries and one tracing span per call.

use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::request::{Base, Request};
use super::retry::RetryPolicy;
use crate::config::{AccessToken, ApiVersion};
use crate::error::{ApiError, ApiErrorKind, Error, Result};
use crate::log_limit::RateLimitedWarn;

/// Everything needed to send requests; lives inside the client's `Arc`.
#[derive(Debug)]
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) api_url: String,
    pub(crate) edge_url: String,
    /// The `v1` of `/api/v1/...`, on both hosts.
    pub(crate) api_version: ApiVersion,
    pub(crate) token: AccessToken,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) user_agent: HeaderValue,
    /// The longest customer id sent, in bytes ([`crate::KelviqBuilder::max_customer_id_len`]).
    pub(crate) max_customer_id_len: usize,
    /// The [`INSTANCE_HEADER`](crate::INSTANCE_HEADER) of every request
    /// ([`crate::KelviqBuilder::instance_name`]).
    pub(crate) instance: HeaderValue,
    /// The `kelviq request failed after retries` warning: an outage fails every call, and
    /// must not write one line per call (at most one per
    /// [`WARN_EVERY`](crate::log_limit::WARN_EVERY), the others at `debug`, counted in the
    /// next warning's `held_back`).
    pub(crate) failure_warn: RateLimitedWarn,
}

/// A success response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl Transport {
    /// Sends the request (with retries) and decodes a JSON success body.
    ///
    /// An empty or non-JSON success body is an [`Error::Decode`], never an empty value.
    pub(crate) async fn json<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        let method = request.method.clone();
        let path = request.template;
        let reply = self.send(request).await?;
        serde_json::from_slice(&reply.body).map_err(|source| Error::Decode {
            method,
            path,
            status: reply.status,
            source,
        })
    }

    /// Sends the request, retrying as the [`RetryPolicy`] allows, and returns the success
    /// response.
    pub(crate) async fn send(&self, request: Request) -> Result<Reply> {
        let span = tracing::debug_span!(
            "kelviq.request",
            operation = request.operation,
            method = %request.method,
            path = request.template,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        self.send_with_retries(request).instrument(span).await
    }

    async fn send_with_retries(&self, request: Request) -> Result<Reply> {
        let url = self.url(&request)?;
        let started = Instant::now();
        let span = tracing::Span::current();
        let mut retry = 0;
        loop {
            span.record("attempt", retry + 1);
            let outcome = self.attempt(&request, url.clone()).await;
            let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            span.record("elapsed_ms", elapsed);
            let error = match outcome {
                Ok(reply) => {
                    crate::telemetry::upstream_request(request.operation, true, started.elapsed());
                    span.record("status", reply.status.as_u16());
                    tracing::debug!("kelviq request succeeded");
                    return Ok(reply);
                }
                Err(error) => error,
            };
            if let Some(status) = error.status() {
                span.record("status", status.as_u16());
            }
            let delay = request
                .retry
                .then(|| {
                    self.retry
                        .delay(retry, &error, &request.method, request.replay_safe)
                })
                .flatten()
                .filter(|_| {
                    request.wait_retry_after
                        || error.as_api().and_then(|api| api.retry_after).is_none()
                })
                .filter(|delay| {
                    request.deadline.is_none_or(|deadline| {
                        Instant::now()
                            .checked_add(*delay)
                            .is_some_and(|at| at < deadline)
                    })
                });
            match delay {
                Some(delay) => {
                    tracing::debug!(error = %error, delay_ms = delay.as_millis(), "retrying kelviq request");
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                None => {
                    crate::telemetry::upstream_request(request.operation, false, started.elapsed());
                    if retry > 0 {
                        match self.failure_warn.allow() {
                            Some(held_back) => {
                                tracing::warn!(error = %error, attempts = retry + 1, held_back, "kelviq request failed after retries")
                            }
                            None => {
                                tracing::debug!(error = %error, attempts = retry + 1, "kelviq request failed after retries")
                            }
                        }
                    } else {
                        tracing::debug!(error = %error, "kelviq request failed");
                    }
                    return Err(error);
                }
            }
        }
    }

    fn url(&self, request: &Request) -> Result<reqwest::Url> {
        let base = match request.base {
            Base::Api => &self.api_url,
            Base::Edge => &self.edge_url,
        };
        let mut url =
            reqwest::Url::parse(&format!("{base}/api/{}{}", self.api_version, request.path))
                .map_err(|error| Error::Config(format!("cannot build a request URL: {error}")))?;
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        Ok(url)
    }

    async fn attempt(&self, request: &Request, url: reqwest::Url) -> Result<Reply> {
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .bearer_auth(self.token.expose())
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, self.user_agent.clone())
            .header(crate::INSTANCE_HEADER, self.instance.clone())
            .timeout(match request.deadline {
                Some(deadline) => self
                    .timeout
                    .min(deadline.saturating_duration_since(Instant::now()))
                    .max(Duration::from_millis(1)),
                None => self.timeout,
            });
        if let Some(body) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let transport_error = |source: reqwest::Error| {
            // A connection that could not be established (refused, or timed out while
            // connecting) never reached Kelviq: say so before calling it a timeout.
            if !source.is_connect() && source.is_timeout() {
                Error::Timeout {
                    method: request.method.clone(),
                    path: request.template,
                }
            } else {
                Error::Transport {
                    method: request.method.clone(),
                    path: request.template,
                    connect: source.is_connect(),
                    source,
                }
            }
        };
        let response = builder.send().await.map_err(transport_error)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await.map_err(transport_error)?;
        if status.is_success() {
            return Ok(Reply { status, body });
        }
        Err(Error::Api(Box::new(ApiError {
            status,
            kind: ApiErrorKind::from_status(status),
            body: error_body(&body),
            retry_after,
            method: request.method.clone(),
            path: request.template,
        })))
    }
}

/// The parsed error body: JSON when it is JSON, else the text (at most 4 KiB) as a string.
fn error_body(body: &[u8]) -> serde_json::Value {
    if body.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(body).unwrap_or_else(|_| {
        let text = String::from_utf8_lossy(body);
        let cut = text
            .char_indices()
            .nth(4096)
            .map_or(text.len(), |(index, _)| index);
        serde_json::Value::String(text[..cut].to_owned())
    })
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn error_bodies() {
        assert_eq!(error_body(b""), serde_json::Value::Null);
        assert_eq!(error_body(b"{\"detail\":\"x\"}")["detail"], "x");
        assert_eq!(
            error_body(b"<html>"),
            serde_json::Value::String("<html>".into())
        );
    }
}
