//! Queueing events and the task that delivers them.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::record::Record;
use super::{
    DEFAULT_WEBHOOK_QUEUE, DeliveryAttempt, DeliveryOutcome, Endpoint, MAX_WEBHOOK_BACKOFF,
    WEBHOOK_RESPONSE_BODY_LIMIT, WebhookDelivery,
};
use crate::server::lock;

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) timeout: Duration,
}

/// One queued delivery.
#[derive(Debug)]
pub(crate) struct Job {
    seq: u64,
    id: String,
    endpoint: Endpoint,
    body: Bytes,
}

/// The webhook side of the mock: the endpoint, the queue and the record.
#[derive(Debug)]
pub(crate) struct Webhooks {
    endpoint: Mutex<Option<Endpoint>>,
    queue: mpsc::Sender<Job>,
    record: Mutex<Record>,
    /// How many deliveries have settled since the start.
    settled: watch::Sender<u64>,
    retry: RetryPolicy,
}

impl Webhooks {
    /// The webhook side and the receiving end of its queue, for [`run`].
    pub(crate) fn new(
        endpoint: Option<Endpoint>,
        retry: RetryPolicy,
        record_capacity: usize,
    ) -> (Self, mpsc::Receiver<Job>) {
        let (queue, jobs) = mpsc::channel(DEFAULT_WEBHOOK_QUEUE);
        let webhooks = Webhooks {
            endpoint: Mutex::new(endpoint),
            queue,
            record: Mutex::new(Record::new(record_capacity)),
            settled: watch::Sender::new(0),
            retry,
        };
        (webhooks, jobs)
    }

    pub(crate) fn set_endpoint(&self, endpoint: Option<Endpoint>) {
        *lock(&self.endpoint) = endpoint;
    }

    /// Queues an event for the endpoint, if one is configured. Never waits: a full queue
    /// drops the event (recorded as [`DeliveryOutcome::Dropped`]).
    pub(crate) fn notify(
        &self,
        event_type: &str,
        customer_id: &str,
        data: Value,
        created_on: &str,
    ) {
        let Some(endpoint) = lock(&self.endpoint).clone() else {
            return;
        };
        let mut record = lock(&self.record);
        let seq = record.next_seq();
        let id = format!("msg_{seq}");
        let body = json!({
            "id": id,
            "type": event_type,
            "createdOn": created_on,
            "data": data,
        });
        let body = Bytes::from(body.to_string());
        let job = Job {
            seq,
            id: id.clone(),
            endpoint: endpoint.clone(),
            body: body.clone(),
        };
        let queued = self.queue.try_send(job).is_ok();
        if !queued {
            tracing::warn!(
                id,
                event_type,
                "kelviq-mock webhook queue full: event dropped"
            );
        }
        record.push(WebhookDelivery {
            seq,
            id,
            event_type: event_type.to_owned(),
            customer_id: customer_id.to_owned(),
            url: endpoint.url,
            body,
            attempts: Vec::new(),
            outcome: if queued {
                DeliveryOutcome::Pending
            } else {
                DeliveryOutcome::Dropped
            },
        });
        drop(record);
        if !queued {
            self.settled
                .send_modify(|count| *count = count.saturating_add(1));
        }
    }

    pub(crate) fn deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.record).entries().cloned().collect()
    }

    /// The last `count` deliveries, newest first.
    pub(crate) fn recent_deliveries(&self, count: usize) -> Vec<WebhookDelivery> {
        lock(&self.record)
            .entries()
            .rev()
            .take(count)
            .cloned()
            .collect()
    }

    /// The endpoint's URL, when one is configured.
    pub(crate) fn endpoint_url(&self) -> Option<String> {
        lock(&self.endpoint)
            .as_ref()
            .map(|endpoint| endpoint.url.clone())
    }

    /// Waits until at least `count` deliveries have settled since the start, or `timeout`.
    pub(crate) async fn wait_settled(&self, count: u64, timeout: Duration) -> bool {
        let mut settled = self.settled.subscribe();
        tokio::time::timeout(timeout, settled.wait_for(|settled| *settled >= count))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    fn record_attempt(&self, seq: u64, attempt: DeliveryAttempt) {
        if let Some(entry) = lock(&self.record).entry(seq) {
            entry.attempts.push(attempt);
        }
    }

    fn settle(&self, seq: u64, outcome: DeliveryOutcome) {
        if let Some(entry) = lock(&self.record).entry(seq) {
            entry.outcome = outcome;
        }
        self.settled
            .send_modify(|count| *count = count.saturating_add(1));
    }
}

/// Delivers queued events one at a time, in order, until `stop` fires.
pub(crate) async fn run(
    webhooks: std::sync::Arc<Webhooks>,
    mut jobs: mpsc::Receiver<Job>,
    mut stop: watch::Receiver<()>,
) {
    loop {
        let job = tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => job,
                None => return,
            },
            _ = stop.changed() => return,
        };
        tokio::select! {
            () = deliver(&webhooks, job) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn deliver(webhooks: &Webhooks, job: Job) {
    let retry = webhooks.retry;
    let mut attempt = 1;
    loop {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let signature = job.endpoint.secret.sign(&job.id, timestamp, &job.body);
        let answer = tokio::time::timeout(retry.timeout, post(&job, timestamp, &signature))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {:?}", retry.timeout)));
        let recorded = match answer {
            Ok((status, response_body)) => DeliveryAttempt {
                timestamp,
                signature,
                status: Some(status),
                response_body,
                error: None,
            },
            Err(error) => DeliveryAttempt {
                timestamp,
                signature,
                status: None,
                response_body: Bytes::new(),
                error: Some(error),
            },
        };
        let success = recorded.is_success();
        let status = recorded.status;
        tracing::debug!(
            id = job.id,
            attempt,
            ?status,
            error = recorded.error,
            "kelviq-mock webhook attempt"
        );
        webhooks.record_attempt(job.seq, recorded);
        if success {
            webhooks.settle(job.seq, DeliveryOutcome::Delivered(status.unwrap_or(200)));
            return;
        }
        if attempt >= retry.attempts {
            tracing::warn!(id = job.id, attempt, "kelviq-mock webhook delivery failed");
            webhooks.settle(job.seq, DeliveryOutcome::Failed);
            return;
        }
        tokio::time::sleep(backoff_after(attempt, retry.backoff)).await;
        attempt += 1;
    }
}

/// The wait after failed attempt number `attempt` (from 1): `base`, doubled for each
/// attempt after the first, at most [`MAX_WEBHOOK_BACKOFF`]; never overflows.
fn backoff_after(attempt: u32, base: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    base.saturating_mul(factor).min(MAX_WEBHOOK_BACKOFF)
}

/// POSTs the job's body once over a fresh HTTP/1.1 connection: the status and the start
/// of the answer's body, or why there is none.
async fn post(job: &Job, timestamp: u64, signature: &str) -> Result<(u16, Bytes), String> {
    let uri = &job.endpoint.uri;
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|error| format!("cannot connect: {error}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("handshake failed: {error}"))?;
    let connection = tokio::spawn(connection);
    let authority = uri.authority().map_or_else(
        || host.to_owned(),
        |authority| authority.as_str().to_owned(),
    );
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let request = Request::post(path)
        .header(header::HOST, authority)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "kelviq-mock")
        .header("webhook-id", job.id.as_str())
        .header("webhook-timestamp", timestamp)
        .header("webhook-signature", signature)
        .body(Full::new(job.body.clone()))
        .map_err(|error| format!("cannot build the request: {error}"))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("request failed: {error}"))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), WEBHOOK_RESPONSE_BODY_LIMIT)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        Ok((status, body))
    }
    .await;
    connection.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let base = Duration::from_millis(100);
        let waits: Vec<_> = (1..=5)
            .map(|attempt| backoff_after(attempt, base))
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600].map(Duration::from_millis));
        assert_eq!(backoff_after(8, base), MAX_WEBHOOK_BACKOFF);
        assert_eq!(backoff_after(u32::MAX, Duration::MAX), MAX_WEBHOOK_BACKOFF);
        assert_eq!(backoff_after(0, base), base);
    }
}
