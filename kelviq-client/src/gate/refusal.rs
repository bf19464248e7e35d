//! What extractors refuse with, framework-neutral: the Kelviq layer is missing
//! ([`LayerMissing`]), or a denial made on a request the gate let through ([`Refusal`]).
//! The adapters wrap them in their own rejection types and only convert the response.

use std::fmt;

use bytes::Bytes;
use http::StatusCode;

use super::context::RequestContext;
use super::denial::{Denial, LAYER_MISSING, error_response};

/// An extractor found no [`RequestContext`] in the request: the Kelviq layer (or
/// middleware) that makes one is missing in front of the route. `500`, code
/// `kelviq_layer_missing`, with a message naming the layer to add. A mistake in the app;
/// the extractor never calls Kelviq itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerMissing {
    /// What to add, and where.
    advice: &'static str,
}

impl LayerMissing {
    /// The rejection of an adapter whose fix is `advice` (e.g. "add
    /// kelviq_axum::KelviqLayer in front of this route"). Logged once at `debug`.
    pub fn new(advice: &'static str) -> Self {
        tracing::debug!(
            advice,
            "no kelviq context in the request: is the layer missing?"
        );
        LayerMissing { advice }
    }

    /// `500 Internal Server Error`.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The `error` code of the body: [`LAYER_MISSING`].
    pub fn code(&self) -> &'static str {
        LAYER_MISSING
    }

    /// The answer: `500`, `{"code":"kelviq_layer_missing", "detail": ...}`.
    pub fn to_response(&self) -> http::Response<Bytes> {
        error_response(self.status(), LAYER_MISSING, &self.to_string())
    }
}

impl fmt::Display for LayerMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no Kelviq context in the request: {}", self.advice)
    }
}

impl std::error::Error for LayerMissing {}

/// A denial an extractor made on a request its gate let through — a feature the handler
/// needs, or no snapshot to judge — answered exactly as the gate answers denials
/// ([`RequestContext::deny`]: its denial handler, else the JSON body).
#[derive(Debug, Clone)]
pub struct Refusal {
    denial: Denial,
    context: RequestContext,
}

impl Refusal {
    /// Refuses the request of `context` with `denial`.
    pub fn new(denial: Denial, context: &RequestContext) -> Self {
        Refusal {
            denial,
            context: context.clone(),
        }
    }

    /// Refuses the request of `context` because it has no snapshot: the gate let it
    /// through while Kelviq could not be reached ([`Denial::no_snapshot`]).
    pub fn no_snapshot(context: &RequestContext) -> Self {
        Refusal::new(Denial::no_snapshot(), context)
    }

    /// The denial's status (a denial handler may answer with another).
    pub fn status(&self) -> StatusCode {
        self.denial.status()
    }

    /// The denial: reason, feature, message, JSON body.
    pub fn denial(&self) -> &Denial {
        &self.denial
    }

    /// The denial, unwrapped.
    pub fn into_denial(self) -> Denial {
        self.denial
    }

    /// The answer, as the gate answers the denial; logged once at `debug`.
    pub fn to_response(&self) -> http::Response<Bytes> {
        self.context.deny(&self.denial)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.denial, f)
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.denial)
    }
}

/// Declares an adapter's leaf rejection over one of this module's types: a newtype with
/// `From` and `Deref` to it, `Debug`, `Clone`, `Display` and `Error`. The adapter adds its framework's
/// response impl (`IntoResponse`, `ResponseError`), which only converts
/// `self.0.to_response()`. For kelviq-axum and kelviq-actix; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __leaf_rejection {
    ($(#[$meta:meta])* $name:ident($core:ty)) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name($core);

        impl ::core::convert::From<$core> for $name {
            fn from(rejection: $core) -> Self {
                $name(rejection)
            }
        }

        impl ::core::ops::Deref for $name {
            type Target = $core;

            fn deref(&self) -> &$core {
                &self.0
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::error::Error for $name {
            fn source(&self) -> ::core::option::Option<&(dyn ::std::error::Error + 'static)> {
                ::std::error::Error::source(&self.0)
            }
        }
    };
}

/// Declares an adapter's extractor rejection: an enum with one variant per leaf rejection,
/// `Debug`, `Clone`, `Display`, `Error` and `From` each leaf. The adapter adds `status()`
/// and its framework's response impl. For kelviq-axum and kelviq-actix; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __composite_rejection {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$vmeta])*
                $variant($variant),
            )+
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self {
                    $($name::$variant(rejection) => ::core::fmt::Display::fmt(rejection, f),)+
                }
            }
        }

        impl ::std::error::Error for $name {
            fn source(&self) -> ::core::option::Option<&(dyn ::std::error::Error + 'static)> {
                match self {
                    $($name::$variant(rejection) => ::core::option::Option::Some(rejection),)+
                }
            }
        }

        $(
            impl ::core::convert::From<$variant> for $name {
                fn from(rejection: $variant) -> Self {
                    $name::$variant(rejection)
                }
            }
        )+
    };
}
