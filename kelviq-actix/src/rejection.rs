//! Why an extractor refused: small structs named by cause — [`MissingKelviqLayer`],
//! [`KelviqUnavailable`], [`FeatureNotEntitled`] — and one enum per extractor that can
//! refuse for more than one ([`EntitlementsRejection`], [`EntitledRejection`]), as
//! actix-web's and axum's own extractors do.
//!
//! Each is a [`ResponseError`] answering the shared JSON body
//! (`{"error": ..., "message": ..., "feature": ...}`, `Content-Type: application/json`):
//! the responses are made by [`kelviq_client::gate`] ([`RequestContext::deny`] — the gate's
//! denial handler if it has one, else [`Denial::to_response`] — and [`error_response`]) and
//! only converted here, so actix-web refuses exactly as the middleware, tower and axum do.
//! Each rejection is logged once, at `debug`.

use std::fmt;
use std::ops::Deref;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use kelviq_client::gate::{Denial, LayerMissing, Refusal, RequestContext};

use crate::response::{status, to_actix};

/// Defines a leaf rejection over one of kelviq-client's: `Deref` to it (denial, code),
/// `status()` as actix-web's `StatusCode`, `Display`, `Error`, and `ResponseError` with its
/// response.
macro_rules! leaf_rejection {
    ($(#[$meta:meta])* $name:ident($core:ty)) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name($core);

        impl $name {
            /// The status answered (a gate's denial handler may answer with another).
            pub fn status(&self) -> StatusCode {
                status(self.0.status())
            }
        }

        impl Deref for $name {
            type Target = $core;

            fn deref(&self) -> &$core {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                std::error::Error::source(&self.0)
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
    /// `503` `kelviq_unavailable` ([`Denial::no_snapshot`]), or the gate's denial handler's
    /// answer.
    KelviqUnavailable(Refusal)
}

impl FeatureNotEntitled {
    /// The refusal of `denial` on the request of `context`.
    pub(crate) fn new(denial: Denial, context: &RequestContext) -> Self {
        FeatureNotEntitled(Refusal::new(denial, context))
    }
}

impl KelviqUnavailable {
    /// The refusal of an extractor that needs the entitlements the middleware does not have.
    pub(crate) fn no_snapshot(context: &RequestContext) -> Self {
        KelviqUnavailable(Refusal::no_snapshot(context))
    }
}

/// Defines an extractor's rejection: one variant per leaf rejection.
macro_rules! rejection_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum $name {
            $(
                #[allow(missing_docs)]
                $variant($variant),
            )+
        }

        impl $name {
            /// The status answered.
            pub fn status(&self) -> StatusCode {
                match self {
                    $($name::$variant(rejection) => rejection.status(),)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(rejection) => fmt::Display::fmt(rejection, f),)+
                }
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    $($name::$variant(rejection) => Some(rejection),)+
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

        $(
            impl From<$variant> for $name {
                fn from(rejection: $variant) -> Self {
                    $name::$variant(rejection)
                }
            }
        )+
    };
}

rejection_enum! {
    /// Why the [`Entitlements`](crate::Entitlements) extractor refused.
    EntitlementsRejection { MissingKelviqLayer, KelviqUnavailable }
}

rejection_enum! {
    /// Why the [`Entitled`](crate::Entitled) extractor refused.
    EntitledRejection { MissingKelviqLayer, FeatureNotEntitled, KelviqUnavailable }
}

impl From<EntitlementsRejection> for EntitledRejection {
    fn from(rejection: EntitlementsRejection) -> Self {
        match rejection {
            EntitlementsRejection::MissingKelviqLayer(missing) => missing.into(),
            EntitlementsRejection::KelviqUnavailable(unavailable) => unavailable.into(),
        }
    }
}
