//! Why an extractor refused: small structs named by cause — [`MissingKelviqLayer`],
//! [`KelviqUnavailable`], [`FeatureNotEntitled`] — and one enum per extractor
//! ([`CustomerRejection`], [`RequestSnapshotRejection`], [`EntitledRejection`],
//! [`UsageRecorderRejection`], [`KelviqContextRejection`]), as axum's own extractors do.
//!
//! Each implements [`IntoResponse`] with the shared RFC 9457 problem details
//! (`{"type": ..., "title": ..., "status": ..., "detail": ..., "code": ..., "feature": ...}`,
//! `Content-Type: application/problem+json`), made by [`kelviq_client::gate`] (the gate's
//! denial handler, if it has one) and only converted here, so that axum refuses exactly as
//! the tower layer and actix-web do. Each is logged once, at `debug`. A denial's details
//! are [`FeatureNotEntitled::denial`]'s.

use axum::response::{IntoResponse, Response};
use kelviq_client::__private::LayerMissing;

use crate::response::into_axum;

kelviq_client::__leaf_rejection! {
    layer_missing:
    /// The request did not go through a [`KelviqLayer`](crate::KelviqLayer), so there is
    /// no customer or entitlement to extract: `500`, code `kelviq_layer_missing`. A
    /// mistake in the app: add the layer to the route (`.route_layer(gates.clone().into_layer())`)
    /// or to the router in front of it. The extractors never call Kelviq themselves.
    MissingKelviqLayer
}

impl Default for MissingKelviqLayer {
    fn default() -> Self {
        MissingKelviqLayer::from(LayerMissing::new(
            "add kelviq_axum::KelviqLayer (gates.clone().into_layer()) in front of this route, \
             with route_layer or layer, so that it runs before the handler",
        ))
    }
}

kelviq_client::__leaf_rejection! {
    denial:
    /// The customer is not entitled to the feature: `403` `feature_not_entitled`, or
    /// `usage_limit_reached` for a hard-limited meter with nothing left, with the gate's
    /// [limit status](kelviq_client::gate::GateBuilder::limit_reached_status) — the same
    /// answer as the layer's (its denial handler's, if the gate has one).
    FeatureNotEntitled
}

kelviq_client::__leaf_rejection! {
    denial:
    /// There are no entitlements to hand out: the layer let the request through while
    /// Kelviq could not be reached
    /// ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)): `503`
    /// `kelviq_unavailable`, or the gate's denial handler's answer.
    KelviqUnavailable
}

kelviq_client::__composite_rejection! {
    /// Why the [`Customer`](crate::extract::Customer) extractor refused.
    CustomerRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
    }
}

kelviq_client::__composite_rejection! {
    /// Why the [`RequestSnapshot`](crate::extract::RequestSnapshot) extractor refused.
    RequestSnapshotRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
        /// The layer let the request through without entitlements: `503`.
        KelviqUnavailable,
    }
}

kelviq_client::__composite_rejection! {
    /// Why the [`Entitled`](crate::extract::Entitled) extractor refused.
    EntitledRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
        /// The layer let the request through without entitlements: `503`.
        KelviqUnavailable,
        /// The customer may not use the feature: `403` or the gate's limit status.
        FeatureNotEntitled,
    };
    from Refusal
}

kelviq_client::__composite_rejection! {
    /// Why the [`UsageRecorder`](crate::extract::UsageRecorder) extractor refused.
    UsageRecorderRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
    }
}

kelviq_client::__composite_rejection! {
    /// Why the [`KelviqContext`](crate::extract::KelviqContext) extractor refused.
    KelviqContextRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
    }
}

/// Answers each rejection with the gate's response, converted to axum's.
macro_rules! into_response {
    ($($name:ident),+ $(,)?) => {
        $(
            impl IntoResponse for $name {
                fn into_response(self) -> Response {
                    into_axum(self.gate_response())
                }
            }
        )+
    };
}

into_response!(
    MissingKelviqLayer,
    FeatureNotEntitled,
    KelviqUnavailable,
    CustomerRejection,
    RequestSnapshotRejection,
    EntitledRejection,
    UsageRecorderRejection,
    KelviqContextRejection,
);
