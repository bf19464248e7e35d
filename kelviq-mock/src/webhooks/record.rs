//! The record of deliveries: a bounded ring, oldest dropped first.

use std::collections::VecDeque;

use bytes::Bytes;

/// How a delivery ended, or that it has not yet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// Queued or being attempted.
    Pending,
    /// The endpoint answered with this 2xx status.
    Delivered(u16),
    /// Every attempt failed (see [`WebhookDelivery::attempts`]).
    Failed,
    /// Never attempted: the queue was full or the mock was shutting down.
    Dropped,
}

impl DeliveryOutcome {
    /// Whether the delivery is over (delivered, failed or dropped).
    pub fn is_settled(&self) -> bool {
        !matches!(self, DeliveryOutcome::Pending)
    }
}

/// One attempt at a delivery and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryAttempt {
    /// The `webhook-timestamp` sent (unix seconds).
    pub timestamp: u64,
    /// The `webhook-signature` sent.
    pub signature: String,
    /// The status the endpoint answered with; `None` when it did not answer.
    pub status: Option<u16>,
    /// The answer's body; empty when there was none, or when it was longer than
    /// [`WEBHOOK_RESPONSE_BODY_LIMIT`](crate::WEBHOOK_RESPONSE_BODY_LIMIT) bytes.
    pub response_body: Bytes,
    /// Why there is no answer (connection refused, timeout, ...), when there is none.
    pub error: Option<String>,
}

impl DeliveryAttempt {
    /// Whether the endpoint answered 2xx.
    pub fn is_success(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

/// One event sent (or to be sent) to the webhook endpoint.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// Order of creation, from 0.
    pub seq: u64,
    /// The `webhook-id` header, the same for every attempt.
    pub id: String,
    /// The event type (`subscription.updated`, ...).
    pub event_type: String,
    /// The customer the event concerns.
    pub customer_id: String,
    /// The endpoint URL.
    pub url: String,
    /// The exact body sent.
    pub body: Bytes,
    /// The attempts so far, in order.
    pub attempts: Vec<DeliveryAttempt>,
    /// How it ended.
    pub outcome: DeliveryOutcome,
}

impl WebhookDelivery {
    /// The body parsed as JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The ring of deliveries; lives behind a lock.
#[derive(Debug)]
pub(crate) struct Record {
    next_seq: u64,
    capacity: usize,
    entries: VecDeque<WebhookDelivery>,
}

impl Record {
    pub(crate) fn new(capacity: usize) -> Self {
        Record {
            next_seq: 0,
            capacity,
            entries: VecDeque::new(),
        }
    }

    /// The seq the next delivery gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub(crate) fn push(&mut self, delivery: WebhookDelivery) {
        self.next_seq = self.next_seq.saturating_add(1);
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(delivery);
    }

    pub(crate) fn entry(&mut self, seq: u64) -> Option<&mut WebhookDelivery> {
        let first = self.entries.front()?.seq;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.entries.get_mut(index)
    }

    pub(crate) fn entries(&self) -> impl DoubleEndedIterator<Item = &WebhookDelivery> {
        self.entries.iter()
    }
}
