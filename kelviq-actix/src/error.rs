//! The responses this crate writes itself, and the extractors' rejections.
//!
//! Every status and body comes from [`Denial`], so actix-web answers exactly as the tower
//! and axum integrations do; the conversion of its `u16` status to actix-web's
//! `StatusCode` (`http` 0.2) is [`status_code`], here and nowhere else.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use kelviq_client::gate::Denial;

/// actix-web's status for a `u16` from [`Denial::status`] (always within `400..=599`;
/// anything else would be a bug upstream, answered as `500`).
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The default answer to a denial: its status and its JSON body
/// (`{"error": ..., "message": ..., "feature": ...}`, `Content-Type: application/json`).
///
/// Use it from an [`on_denied`](crate::KelviqMiddleware::on_denied) handler that only
/// changes some denials.
pub fn denial_response(denial: &Denial) -> HttpResponse {
    json_response(status_code(denial.status()), denial.body_bytes())
}

fn json_response(status: StatusCode, body: impl Into<actix_web::web::Bytes>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(Denial::CONTENT_TYPE)
        .body(body.into())
}

/// The answer of a middleware whose configuration is invalid: `500`,
/// `{"error": "kelviq_misconfigured", ...}` with a generic message (as kelviq-tower); the
/// detail is logged, not sent to the client.
pub(crate) fn misconfigured_response(error: &kelviq_client::Error) -> HttpResponse {
    tracing::error!(%error, "kelviq middleware misconfigured");
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        kelviq_client::gate::error_body(
            "kelviq_misconfigured",
            "the service's Kelviq integration is misconfigured",
        ),
    )
}

/// Logs a refusal once, at `debug`.
pub(crate) fn log_denial(denial: &Denial) {
    tracing::debug!(
        code = denial.code(),
        feature = denial.feature().unwrap_or_default(),
        status = denial.status(),
        "request denied by kelviq"
    );
}

/// The request did not go through the [`KelviqMiddleware`](crate::KelviqMiddleware), so
/// there is no customer or entitlement to extract: `500`, code
/// `kelviq_middleware_missing`. A configuration mistake: wrap the route (or its scope or
/// the app) with the middleware.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MiddlewareMissing;

impl MiddlewareMissing {
    const MESSAGE: &'static str = "no Kelviq context in the request: wrap this route, its scope or the app with kelviq_actix::KelviqMiddleware";

    pub(crate) fn new() -> Self {
        tracing::debug!("no kelviq context in the request: is the middleware missing?");
        MiddlewareMissing
    }

    /// `500 Internal Server Error`.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

impl fmt::Display for MiddlewareMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

impl std::error::Error for MiddlewareMissing {}

impl ResponseError for MiddlewareMissing {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        json_response(
            self.status(),
            format!(
                r#"{{"error":"kelviq_middleware_missing","message":"{}","feature":null}}"#,
                Self::MESSAGE
            ),
        )
    }
}

/// Wraps a [`Denial`] as a rejection: status and JSON body are the denial's.
macro_rules! denial_rejection {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name {
            denial: Denial,
        }

        impl $name {
            pub(crate) fn new(denial: Denial) -> Self {
                log_denial(&denial);
                $name { denial }
            }

            /// The status answered.
            pub fn status(&self) -> StatusCode {
                status_code(self.denial.status())
            }

            /// The denial: reason, feature, message, JSON body.
            pub fn denial(&self) -> &Denial {
                &self.denial
            }

            /// The denial, unwrapped.
            pub fn into_denial(self) -> Denial {
                self.denial
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.denial, f)
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.denial)
            }
        }

        impl ResponseError for $name {
            fn status_code(&self) -> StatusCode {
                self.status()
            }

            fn error_response(&self) -> HttpResponse {
                denial_response(&self.denial)
            }
        }
    };
}

denial_rejection! {
    /// The customer is not entitled to the feature: `403` `feature_not_entitled`, or
    /// `usage_limit_reached` for a hard-limited meter with nothing left.
    FeatureNotEntitled
}

denial_rejection! {
    /// There are no entitlements to hand out: the middleware let the request through while
    /// Kelviq could not be reached ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)).
    /// `503` `kelviq_unavailable`.
    KelviqUnavailable
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
    /// Why the [`Entitlements`](crate::Entitlements) extractor failed.
    EntitlementsRejection { MiddlewareMissing, KelviqUnavailable }
}

rejection_enum! {
    /// Why the [`Entitled`](crate::Entitled) extractor failed.
    EntitledRejection { MiddlewareMissing, FeatureNotEntitled, KelviqUnavailable }
}
