//! Why an extractor refused: small structs named by cause — [`MissingKelviqLayer`],
//! [`KelviqUnavailable`], [`FeatureNotEntitled`] — and one enum per extractor that can
//! refuse for more than one ([`EntitlementsRejection`], [`EntitledRejection`]), as
//! actix-web's and axum's own extractors do.
//!
//! Each is a [`ResponseError`] answering the shared RFC 9457 problem details
//! (`{"type": ..., "title": ..., "status": ..., "detail": ..., "code": ..., "feature": ...}`,
//! `Content-Type: application/problem+json`):
//! the responses are made by [`kelviq_client::gate`] ([`Refusal::to_response`] — the gate's
//! denial handler if it has one, else the denial's JSON — and [`LayerMissing::to_response`])
//! and only converted here, so actix-web refuses exactly as the middleware, tower and axum do.
//! Each rejection is logged once, at `debug`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use kelviq_client::gate::{LayerMissing, Refusal};

use crate::response::{status, to_actix};

/// Declares a leaf rejection over one of kelviq-client's (see
/// `kelviq_client::__leaf_rejection`): `status()` as actix-web's `StatusCode`, answered
/// with its response.
macro_rules! leaf_rejection {
    ($(#[$meta:meta])* $name:ident($core:ty)) => {
        kelviq_client::__leaf_rejection! { $(#[$meta])* $name($core) }

        impl $name {
            /// The status answered (a gate's denial handler may answer with another).
            pub fn status(&self) -> StatusCode {
                status(self.0.status())
            }
        }

        impl ResponseError for $name {
            fn status_code(&self) -> StatusCode {
                self.status()
            }

            fn error_response(&self) -> HttpResponse {
                to_actix(self.0.to_response())
            }
        }
    };
}

leaf_rejection! {
    /// The request did not go through the [`KelviqMiddleware`](crate::KelviqMiddleware), so
    /// there is no customer or entitlement to extract: `500`, code `kelviq_layer_missing`.
    /// A mistake in the app: wrap the route, its scope or the app with the middleware. The
    /// extractor never calls Kelviq itself.
    MissingKelviqLayer(LayerMissing)
}

impl Default for MissingKelviqLayer {
    fn default() -> Self {
        MissingKelviqLayer(LayerMissing::new(
            "wrap this route, its scope or the app with kelviq_actix::KelviqMiddleware",
        ))
    }
}

leaf_rejection! {
    /// The customer is not entitled to the feature: `403` `feature_not_entitled`, or
    /// `usage_limit_reached` for a hard-limited meter with nothing left, with the gate's
    /// [limit status](kelviq_client::gate::GateBuilder::limit_reached_status) — the same
    /// answer as the middleware's (its denial handler's, if the gate has one).
    FeatureNotEntitled(Refusal)
}

leaf_rejection! {
    /// There are no entitlements to hand out: the middleware let the request through while
    /// Kelviq could not be reached ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)).
    /// `503` `kelviq_unavailable` ([`Denial::no_snapshot`](kelviq_client::gate::Denial::no_snapshot)), or the gate's denial handler's
    /// answer.
    KelviqUnavailable(Refusal)
}

/// Declares an extractor's rejection (see `kelviq_client::__composite_rejection`): its
/// status, and the response of the leaf it holds.
macro_rules! rejection_enum {
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

        impl ResponseError for $name {
            fn status_code(&self) -> StatusCode {
                self.status()
            }

            fn error_response(&self) -> HttpResponse {
                match self {
                    $($name::$variant(rejection) => rejection.error_response(),)+
                }
            }
        }
    };
}

rejection_enum! {
    /// Why the [`Entitlements`](crate::Entitlements) extractor refused.
    EntitlementsRejection {
        /// No Kelviq middleware in front of the route: `500`.
        MissingKelviqLayer,
        /// The middleware let the request through without entitlements: `503`.
        KelviqUnavailable,
    }
}

rejection_enum! {
    /// Why the [`Entitled`](crate::Entitled) extractor refused.
    EntitledRejection {
        /// No Kelviq middleware in front of the route: `500`.
        MissingKelviqLayer,
        /// The customer may not use the feature: `403` or the gate's limit status.
        FeatureNotEntitled,
        /// The middleware let the request through without entitlements: `503`.
        KelviqUnavailable,
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
