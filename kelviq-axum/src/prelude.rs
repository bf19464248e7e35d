//! Everything an axum app needs from Kelviq, so that it depends on `kelviq-axum` only:
//! `use kelviq_axum::prelude::*;`.
//!
//! - the client: [`Kelviq`], [`KelviqBuilder`], [`CacheConfig`], [`MeterConfig`],
//!   [`UsageMeter`];
//! - the gate: [`Gate`], [`GateBuilder`], [`FailurePolicy`] (and its [`Fallback`]),
//!   [`StatusFilter`], [`Denial`], [`DenialReason`], [`Quota`], [`RequestContext`],
//!   [`Snapshot`], typed features ([`feature!`](crate::feature), [`Feature`]), and
//!   [`StatusCode`] (`http`'s, the same as `axum::http::StatusCode`) for
//!   [`GateBuilder::limit_reached_status`];
//! - the layer: [`KelviqLayer`], [`GateBuilderExt`] (`.into_layer()`), the customer
//!   sources [`CustomerId`], [`FromExtension`], [`FromHeader`], [`FromFn`] (over a
//!   [`RequestHead`]), [`FromPath`], and [`UsageAmount`];
//! - the extractors [`Customer`], [`RequestSnapshot`], [`Entitled`], [`UsageRecorder`],
//!   [`KelviqContext`], and [`FeatureNotEntitled`] (what a handler's
//!   [`UsageRecorder::reserve`] refuses with);
//! - webhooks: the [`webhook`] route, [`WebhookRoute`], [`Webhook`], [`ReplayGuard`],
//!   [`WebhookEvent`], [`WebhookError`].

pub use kelviq_client::cache::Snapshot;
pub use kelviq_client::feature;
pub use kelviq_client::gate::{
    Denial, DenialReason, FailurePolicy, Fallback, Feature, Gate, GateBuilder, Quota,
    RequestContext, StatusCode, StatusFilter,
};
pub use kelviq_client::meter::{MeterConfig, UsageMeter};
pub use kelviq_client::webhook::{ReplayGuard, Webhook, WebhookError, WebhookEvent, WebhookRoute};
pub use kelviq_client::{CacheConfig, Kelviq, KelviqBuilder};
pub use kelviq_tower::{
    CustomerId, FromExtension, FromFn, FromHeader, GateBuilderExt, KelviqLayer, RequestHead,
    UsageAmount,
};

pub use crate::extract::{Customer, Entitled, KelviqContext, RequestSnapshot, UsageRecorder};
pub use crate::path::FromPath;
pub use crate::rejection::FeatureNotEntitled;
pub use crate::webhook::webhook;
