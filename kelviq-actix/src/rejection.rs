//! Why an extractor refused: small structs named by cause — [`MissingKelviqLayer`],
//! [`KelviqUnavailable`], [`FeatureNotEntitled`] — and one enum per extractor that can
//! refuse for more than one ([`RequestSnapshotRejection`], [`EntitledRejection`]), as
//! actix-web's and axum's own extractors do.
//!
//! Each is a [`ResponseError`] answering the shared RFC 9457 problem details
//! (`{"type": ..., "title": ..., "status": ..., "detail": ..., "code": ..., "feature": ...}`,
//! `Content-Type: application/problem+json`): the responses are made by
//! [`kelviq_client::gate`] (the gate's denial handler if it has one, else the denial's
//! problem details) and only converted here, so actix-web refuses exactly as the
//! middleware, tower and axum do. Each rejection is logged once, at `debug`. Their
//! `status()` is the gate's `http` 1 status, as in kelviq-axum;
//! [`ResponseError::status_code`] is actix-web's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use kelviq_client::__private::LayerMissing;

use crate::response::{status, to_actix};

kelviq_client::__leaf_rejection! {
    layer_missing:
    /// The request did not go through the [`KelviqMiddleware`](crate::KelviqMiddleware), so
    /// there is no customer or entitlement to extract: `500`, code `kelviq_layer_missing`.
    /// A mistake in the app: wrap the route, its scope or the app with the middleware. The
    /// extractor never calls Kelviq itself.
    MissingKelviqLayer
}

impl Default for MissingKelviqLayer {
    fn default() -> Self {
        MissingKelviqLayer::from(LayerMissing::new(
            "wrap this route, its scope or the app with kelviq_actix::KelviqMiddleware",
        ))
    }
}

kelviq_client::__leaf_rejection! {
    denial:
    /// The customer is not entitled to the feature: `403` `feature_not_entitled`, or
    /// `usage_limit_reached` for a hard-limited meter with nothing left, with the gate's
    /// [limit status](kelviq_client::gate::GateBuilder::limit_reached_status) — the same
    /// answer as the middleware's (its denial handler's, if the gate has one).
    FeatureNotEntitled
}

kelviq_client::__leaf_rejection! {
    denial:
    /// There are no entitlements to hand out: the middleware let the request through while
    /// Kelviq could not be reached ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)).
    /// `503` `kelviq_unavailable` ([`Denial::no_snapshot`](kelviq_client::gate::Denial::no_snapshot)), or the gate's denial handler's
    /// answer.
    KelviqUnavailable
}

kelviq_client::__composite_rejection! {
    /// Why the [`RequestSnapshot`](crate::RequestSnapshot) extractor refused.
    RequestSnapshotRejection {
        /// No Kelviq middleware in front of the route: `500`.
        MissingKelviqLayer,
        /// The middleware let the request through without entitlements: `503`.
        KelviqUnavailable,
    }
}

kelviq_client::__composite_rejection! {
    /// Why the [`Entitled`](crate::Entitled) extractor refused.
    EntitledRejection {
        /// No Kelviq middleware in front of the route: `500`.
        MissingKelviqLayer,
        /// The middleware let the request through without entitlements: `503`.
        KelviqUnavailable,
        /// The customer may not use the feature: `403` or the gate's limit status.
        FeatureNotEntitled,
    };
    from Refusal
}

/// Answers each rejection with the gate's response, converted to actix-web's.
macro_rules! response_error {
    ($($name:ident),+ $(,)?) => {
        $(
            impl ResponseError for $name {
                fn status_code(&self) -> StatusCode {
                    status(self.status())
                }

                fn error_response(&self) -> HttpResponse {
                    to_actix(self.gate_response())
                }
            }
        )+
    };
}

response_error!(
    MissingKelviqLayer,
    FeatureNotEntitled,
    KelviqUnavailable,
    RequestSnapshotRejection,
    EntitledRejection,
);
