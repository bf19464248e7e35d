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

use crate::response::into_axum;

kelviq_client::__rejections! {
    layer: "a [`KelviqLayer`](crate::KelviqLayer)",
    fix: "add the layer to the route (`.route_layer(gates.clone().into_layer())`) or to the \
          router in front of it",
    advice: "add kelviq_axum::KelviqLayer (gates.clone().into_layer()) in front of this route, \
             with route_layer or layer, so that it runs before the handler",
    extract: "crate::extract",
}

kelviq_client::__composite_rejection! {
    /// Why the [`Customer`](crate::extract::Customer) extractor refused.
    CustomerRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
    }
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
