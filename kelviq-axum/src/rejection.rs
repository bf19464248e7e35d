//! Why an extractor refused: small structs named by cause — [`MissingKelviqLayer`],
//! [`KelviqUnavailable`], [`FeatureNotEntitled`] — and one enum per extractor
//! ([`CustomerRejection`], [`EntitlementsRejection`], [`EntitledRejection`],
//! [`UsageRecorderRejection`], [`KelviqContextRejection`]), as axum's own extractors do.
//!
//! Each implements [`IntoResponse`] with the shared RFC 9457 problem details
//! (`{"type": ..., "title": ..., "status": ..., "detail": ..., "code": ..., "feature": ...}`,
//! `Content-Type: application/problem+json`),
//! written by [`kelviq_client::gate`] ([`Refusal::to_response`], [`LayerMissing::to_response`]) so that
//! axum refuses exactly as the tower layer and actix-web do. Each is logged once, at
//! `debug`, when it becomes a response.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use kelviq_client::gate::{LayerMissing, Refusal};

use crate::response::into_axum;

/// Declares a leaf rejection over one of kelviq-client's (see
/// `kelviq_client::__leaf_rejection`), answered with its response.
macro_rules! leaf_rejection {
    ($(#[$meta:meta])* $name:ident($core:ty)) => {
        kelviq_client::__leaf_rejection! { $(#[$meta])* $name($core) }

        impl IntoResponse for $name {
            fn into_response(self) -> Response {
                into_axum(self.0.to_response())
            }
        }
    };
}

leaf_rejection! {
    /// The request did not go through a [`KelviqLayer`](crate::KelviqLayer), so there is
    /// no customer or entitlement to extract: `500`, code `kelviq_layer_missing`. A
    /// mistake in the app: add the layer to the route (`.route_layer(gates.clone().into_layer())`)
    /// or to the router in front of it. The extractors never call Kelviq themselves.
    MissingKelviqLayer(LayerMissing)
}

impl Default for MissingKelviqLayer {
    fn default() -> Self {
        MissingKelviqLayer(LayerMissing::new(
            "add kelviq_axum::KelviqLayer (gates.clone().into_layer()) in front of this route, \
             with route_layer or layer, so that it runs before the handler",
        ))
    }
}

leaf_rejection! {
    /// The customer is not entitled to the feature: `403` `feature_not_entitled`, or
    /// `usage_limit_reached` for a hard-limited meter with nothing left, with the gate's
    /// [limit status](kelviq_client::gate::GateBuilder::limit_reached_status) — the same
    /// answer as the layer's (its denial handler's, if the gate has one).
    FeatureNotEntitled(Refusal)
}

leaf_rejection! {
    /// There are no entitlements to hand out: the layer let the request through while
    /// Kelviq could not be reached
    /// ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)): `503`
    /// `kelviq_unavailable`, or the gate's denial handler's answer.
    KelviqUnavailable(Refusal)
}

/// Declares an extractor's rejection (see `kelviq_client::__composite_rejection`): its
/// status, and the response of the leaf it holds.
macro_rules! composite_rejection {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        kelviq_client::__composite_rejection! {
            $(#[$meta])* $name { $($(#[$vmeta])* $variant),+ }
        }

        impl $name {
            /// The status answered.
            pub fn status(&self) -> StatusCode {
                match self {
                    $($name::$variant(rejection) => rejection.status(),)+
                }
            }
        }

        impl IntoResponse for $name {
            fn into_response(self) -> Response {
                match self {
                    $($name::$variant(rejection) => rejection.into_response(),)+
                }
            }
        }
    };
}

composite_rejection! {
    /// Why the [`Customer`](crate::extract::Customer) extractor refused.
    CustomerRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
    }
}

composite_rejection! {
    /// Why the [`Entitlements`](crate::extract::Entitlements) extractor refused.
    EntitlementsRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
        /// The layer let the request through without entitlements: `503`.
        KelviqUnavailable,
    }
}

composite_rejection! {
    /// Why the [`Entitled`](crate::extract::Entitled) extractor refused.
    EntitledRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
        /// The layer let the request through without entitlements: `503`.
        KelviqUnavailable,
        /// The customer may not use the feature: `403` or the gate's limit status.
        FeatureNotEntitled,
    }
}

composite_rejection! {
    /// Why the [`UsageRecorder`](crate::extract::UsageRecorder) extractor refused.
    UsageRecorderRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
    }
}

composite_rejection! {
    /// Why the [`KelviqContext`](crate::extract::KelviqContext) extractor refused.
    KelviqContextRejection {
        /// No Kelviq layer in front of the route: `500`.
        MissingKelviqLayer,
    }
}

impl From<EntitlementsRejection> for EntitledRejection {
    fn from(rejection: EntitlementsRejection) -> Self {
        match rejection {
            EntitlementsRejection::MissingKelviqLayer(missing) => missing.into(),
            EntitlementsRejection::KelviqUnavailable(unavailable) => unavailable.into(),
        }
    }
}
