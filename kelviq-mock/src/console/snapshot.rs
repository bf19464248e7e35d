//! The body of `GET /_mock/state`: customers with their plans and features, the newest
//! journal entries and webhook deliveries, and the fault plan — what the console shows.

use std::time::Instant;

use jiff::Timestamp;
use serde::Serialize;

use crate::faults::{FaultsView, millis};
use crate::journal::{Outcome, RecordedRequest};
use crate::route::Base;
use crate::seed::FeatureKind;
use crate::server::{Shared, lock};
use crate::state::{Customer, State};
use crate::webhooks::{DeliveryAttempt, DeliveryOutcome, WebhookDelivery};

/// How many customers the state shows at most (the first ones, in creation order).
pub(crate) const CUSTOMER_LIMIT: usize = 200;

/// How many journal entries the state shows at most (the newest).
pub(crate) const JOURNAL_LIMIT: usize = 100;

/// How many webhook deliveries the state shows at most (the newest).
pub(crate) const WEBHOOK_LIMIT: usize = 50;

/// How many characters of a webhook answer the state shows.
const ANSWER_LIMIT: usize = 200;

/// How many characters of a request's client instance name the state shows (what
/// `kelviq-client` sends is at most 128 bytes).
const INSTANCE_LIMIT: usize = 128;

/// Everything the console shows, camelCase on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StateView {
    plans: Vec<PlanView>,
    customers: Vec<CustomerView>,
    /// Live customers in all (`customers` holds the first [`CUSTOMER_LIMIT`]).
    customers_total: usize,
    journal: JournalView,
    webhooks: WebhooksView,
    faults: FaultsView,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanView {
    identifier: String,
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerView {
    customer_id: String,
    name: Option<String>,
    email: Option<String>,
    /// Active subscriptions, oldest first.
    subscriptions: Vec<SubscriptionView>,
    /// Every feature of every plan, in plan order, whether the customer has it or not.
    features: Vec<FeatureView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionView {
    id: String,
    plan: String,
    status: &'static str,
    charge_period: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FeatureView {
    feature_id: String,
    #[serde(rename = "type")]
    kind: FeatureKind,
    has_access: bool,
    /// Whether one of the customer's active subscriptions includes the feature: only
    /// then can its usage be set (`POST /_mock/customers/{id}/usage`).
    in_plan: bool,
    /// Current usage (metered and customizable features).
    usage: Option<i64>,
    /// The limit (or configured value) summed over the customer's subscriptions; `None`
    /// when unlimited or not entitled.
    limit: Option<i64>,
    reset_at: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct JournalView {
    /// Newest first, at most [`JOURNAL_LIMIT`].
    entries: Vec<RequestView>,
    /// How many entries the journal keeps now.
    kept: usize,
    /// How many it dropped to stay within its capacity.
    dropped: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestView {
    seq: u64,
    /// Arrival, in milliseconds since the Unix epoch.
    at_ms: i64,
    listener: &'static str,
    method: String,
    /// The path and query as sent.
    path: String,
    /// `pending`, `answered` or `dropped`.
    outcome: &'static str,
    status: Option<u16>,
    latency_ms: Option<u64>,
    fault: Option<String>,
    /// The client instance that sent it (its `x-kelviq-client-instance` header), if named.
    instance: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhooksView {
    endpoint: Option<String>,
    /// Newest first, at most [`WEBHOOK_LIMIT`].
    deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryView {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    customer_id: String,
    /// `pending`, `delivered`, `failed` or `dropped`.
    outcome: &'static str,
    attempts: Vec<AttemptView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AttemptView {
    /// Unix seconds.
    at: u64,
    status: Option<u16>,
    /// The start of the answer's body, or why there was none.
    answer: String,
}

/// The state as the console shows it. Takes each lock in turn, never two at once.
pub(crate) fn snapshot(shared: &Shared) -> StateView {
    let (plans, customers, customers_total) = {
        let state = lock(&shared.state);
        let plans = state
            .plans
            .iter()
            .map(|plan| PlanView {
                identifier: plan.identifier.clone(),
                name: plan.name.clone().unwrap_or_else(|| plan.identifier.clone()),
            })
            .collect();
        let live: Vec<_> = state
            .customers
            .iter()
            .filter(|customer| !customer.archived)
            .collect();
        let customers = live
            .iter()
            .take(CUSTOMER_LIMIT)
            .map(|customer| customer_view(&state, customer))
            .collect();
        (plans, customers, live.len())
    };
    let journal = {
        let journal = lock(&shared.journal);
        let (now_wall, now) = (Timestamp::now(), Instant::now());
        JournalView {
            entries: journal
                .entries()
                .rev()
                .take(JOURNAL_LIMIT)
                .map(|request| request_view(request, now_wall, now))
                .collect(),
            kept: journal.len(),
            dropped: journal.dropped(),
        }
    };
    let webhooks = WebhooksView {
        endpoint: shared.webhooks.endpoint_url(),
        deliveries: shared
            .webhooks
            .recent_deliveries(WEBHOOK_LIMIT)
            .iter()
            .map(delivery_view)
            .collect(),
    };
    let faults = lock(&shared.faults).view();
    StateView {
        plans,
        customers,
        customers_total,
        journal,
        webhooks,
        faults,
    }
}

fn customer_view(state: &State, customer: &Customer) -> CustomerView {
    let customer_id = customer.customer_id.as_str();
    let today = state.today();
    let subscriptions = state
        .active_subscriptions(customer_id)
        .into_iter()
        .map(|sub| SubscriptionView {
            id: sub.id.clone(),
            plan: sub.plan.clone(),
            status: sub.status_on(today),
            charge_period: sub.charge_period.clone(),
        })
        .collect();
    let entries = state.entitlements(customer_id, None);
    let mut features: Vec<FeatureView> = Vec::new();
    for feature in state.plans.iter().flat_map(|plan| &plan.features) {
        if features.iter().any(|seen| seen.feature_id == feature.id) {
            continue;
        }
        let mine: Vec<_> = entries
            .iter()
            .filter(|entry| entry.feature_id == feature.id)
            .collect();
        let usage = match feature.kind {
            FeatureKind::Boolean => None,
            FeatureKind::Meter | FeatureKind::Customizable => {
                Some(state.usage_of(customer_id, &feature.id))
            }
        };
        // Unlimited as soon as one subscription is; none when not entitled.
        let limit = mine
            .iter()
            .map(|entry| entry.usage_limit)
            .try_fold(0_i64, |sum, limit| {
                limit.map(|limit| sum.saturating_add(limit))
            })
            .filter(|_| !mine.is_empty());
        features.push(FeatureView {
            feature_id: feature.id.clone(),
            kind: feature.kind,
            has_access: mine.iter().any(|entry| entry.has_access),
            in_plan: !mine.is_empty(),
            usage,
            limit,
            reset_at: mine.iter().find_map(|entry| entry.reset_at.clone()),
        });
    }
    CustomerView {
        customer_id: customer_id.to_owned(),
        name: customer.name.clone(),
        email: customer.email.clone(),
        subscriptions,
        features,
    }
}

fn request_view(request: &RecordedRequest, now_wall: Timestamp, now: Instant) -> RequestView {
    let age = now.saturating_duration_since(request.received_at);
    let at = now_wall.checked_sub(age).unwrap_or(now_wall);
    let path = match &request.query {
        Some(query) => format!("{}?{query}", request.path),
        None => request.path.clone(),
    };
    let (outcome, status) = match request.outcome {
        Outcome::Responded(status) => ("answered", Some(status)),
        Outcome::Dropped => ("dropped", None),
        Outcome::Pending => ("pending", None),
    };
    RequestView {
        seq: request.seq,
        at_ms: at.as_millisecond(),
        listener: match request.base {
            Base::Api => "api",
            Base::Edge => "edge",
        },
        method: request.method.to_string(),
        path,
        outcome,
        status,
        latency_ms: request.latency.map(millis),
        fault: request.fault.as_ref().map(ToString::to_string),
        instance: request
            .client_instance()
            .map(|name| name.chars().take(INSTANCE_LIMIT).collect()),
    }
}

fn delivery_view(delivery: &WebhookDelivery) -> DeliveryView {
    DeliveryView {
        id: delivery.id.clone(),
        event_type: delivery.event_type.clone(),
        customer_id: delivery.customer_id.clone(),
        outcome: match delivery.outcome {
            DeliveryOutcome::Pending => "pending",
            DeliveryOutcome::Delivered(_) => "delivered",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Dropped => "dropped",
        },
        attempts: delivery.attempts.iter().map(attempt_view).collect(),
    }
}

fn attempt_view(attempt: &DeliveryAttempt) -> AttemptView {
    let answer = match &attempt.error {
        Some(error) => error.clone(),
        None => String::from_utf8_lossy(&attempt.response_body)
            .chars()
            .take(ANSWER_LIMIT)
            .collect(),
    };
    AttemptView {
        at: attempt.timestamp,
        status: attempt.status,
        answer,
    }
}
