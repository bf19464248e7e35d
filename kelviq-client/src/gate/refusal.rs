//! The adapters' plumbing for what extractors refuse with, framework-neutral: the Kelviq
//! layer is missing ([`LayerMissing`]), or a denial made on a request the gate let through
//! ([`Refusal`]); and the macros that declare the adapters' rejection types over them.
//! Reached through [`crate::__private`] (hidden, not a stable API): users see the gate's
//! [`Denial`] and each adapter's rejections, which only convert these responses.

use std::fmt;

use bytes::Bytes;
use http::StatusCode;

use super::context::RequestContext;
use super::denial::{Denial, DenialReason, error_response};

/// The code of the error answered when an extractor finds no context: the Kelviq layer
/// or middleware is missing in front of the route.
pub(crate) const LAYER_MISSING: &str = "kelviq_layer_missing";

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

    /// The `code` of the problem details: `kelviq_layer_missing`.
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
/// needs, no snapshot to judge, a hold the limit refused — answered exactly as the gate
/// answers denials ([`RequestContext::deny`]: its denial handler, else the problem
/// details).
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

    /// Whether the entitlements could not be had (`503`), rather than refused.
    pub fn is_unavailable(&self) -> bool {
        self.denial.reason() == DenialReason::Unavailable
    }

    /// The denial's status (a denial handler may answer with another).
    pub fn status(&self) -> StatusCode {
        self.denial.status()
    }

    /// The `code` of the problem details: the denial's.
    pub fn code(&self) -> &'static str {
        self.denial.code()
    }

    /// The denial.
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

/// Builds the gate an adapter's layer or middleware is made from, while the app is
/// assembled (`into_layer`, `into_middleware`).
///
/// # Panics
///
/// When the gate cannot be built, with the message `invalid Kelviq gate: {error}` naming
/// the mistake; the location is the adapter's caller's.
#[track_caller]
pub fn build_gate(builder: super::GateBuilder) -> super::Gate {
    match builder.build() {
        Ok(gate) => gate,
        // A configuration mistake, found while the app is assembled (documented by the
        // adapters' `into_layer` and `into_middleware`).
        Err(error) => panic!("invalid Kelviq gate: {error}"),
    }
}

/// Declares an adapter's extractor: a newtype over a framework-neutral type of this crate
/// (the field is public, as in axum's `State(..)`), with `Deref` to it, `into_inner`,
/// `Clone`, `Debug` and `From` the newtype for the inner type. The adapter adds its
/// framework's extractor trait, which the orphan rule forbids on this crate's types.
/// `usage_recorder: UsageRecorder` declares the newtype over [`gate::UsageRecorder`]
/// whose `reserve` refuses with the adapter's `FeatureNotEntitled`. For kelviq-axum and
/// kelviq-actix; not a stable API.
///
/// [`gate::UsageRecorder`]: crate::gate::UsageRecorder
#[doc(hidden)]
#[macro_export]
macro_rules! __extractor {
    (usage_recorder: $(#[$meta:meta])* $name:ident) => {
        $crate::__extractor! { $(#[$meta])* $name($crate::gate::UsageRecorder) }

        impl $name {
            /// [`UsageRecorder::reserve`](kelviq_client::gate::UsageRecorder::reserve),
            /// refusing as a handler returns it.
            ///
            /// # Errors
            ///
            /// [`FeatureNotEntitled`] (`usage_limit_reached`, with the gate's limit status)
            /// when the request holds nothing and the limit leaves nothing: return it from
            /// the handler.
            pub async fn reserve(&self, units: i64) -> ::core::result::Result<i64, FeatureNotEntitled> {
                let refused = |denial| $crate::__private::Refusal::new(denial, self.0.context()).into();
                self.0.reserve(units).await.map_err(refused)
            }
        }
    };
    ($(#[$meta:meta])* $name:ident $(<$param:ident>)? ($inner:ty)) => {
        $(#[$meta])*
        pub struct $name $(<$param>)? (pub $inner);

        impl $(<$param>)? $name $(<$param>)? {
            /// The framework-neutral value, unwrapped.
            pub fn into_inner(self) -> $inner {
                self.0
            }
        }

        impl $(<$param>)? ::core::ops::Deref for $name $(<$param>)? {
            type Target = $inner;

            fn deref(&self) -> &$inner {
                &self.0
            }
        }

        impl $(<$param>)? ::core::clone::Clone for $name $(<$param>)? {
            fn clone(&self) -> Self {
                $name(::core::clone::Clone::clone(&self.0))
            }
        }

        impl $(<$param>)? ::core::fmt::Debug for $name $(<$param>)?
        where
            $inner: ::core::fmt::Debug,
        {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(::core::stringify!($name)).field(&self.0).finish()
            }
        }

        impl $(<$param>)? ::core::convert::From<$name $(<$param>)?> for $inner {
            fn from(extracted: $name $(<$param>)?) -> Self {
                extracted.0
            }
        }
    };
}

/// Declares an adapter's leaf rejection, named by its cause: a newtype over
/// [`LayerMissing`] (`layer_missing:`) or [`Refusal`] (`denial:`, which adds `denial()` and
/// `into_denial()`), with `From` it, `Debug`, `Clone`, `Display`, `Error`, `status()` (the
/// gate's `http` 1 status), `code()` and a private `gate_response()`: the response made here. The
/// adapter adds its framework's response impl, which only converts `gate_response()`. For
/// kelviq-axum and kelviq-actix; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __leaf_rejection {
    (layer_missing: $(#[$meta:meta])* $name:ident) => {
        $crate::__leaf_rejection!(@leaf $(#[$meta])* $name($crate::__private::LayerMissing));
    };
    (denial: $(#[$meta:meta])* $name:ident) => {
        $crate::__leaf_rejection!(@leaf $(#[$meta])* $name($crate::__private::Refusal));

        impl $name {
            /// The denial: reason, feature, message, problem details.
            pub fn denial(&self) -> &$crate::gate::Denial {
                self.0.denial()
            }

            /// The denial, unwrapped.
            pub fn into_denial(self) -> $crate::gate::Denial {
                self.0.into_denial()
            }
        }
    };
    (@leaf $(#[$meta:meta])* $name:ident($core:ty)) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name($core);

        impl $name {
            /// The status answered (a gate's denial handler may answer with another).
            pub fn status(&self) -> $crate::gate::StatusCode {
                self.0.status()
            }

            /// The `code` of the problem details (`kelviq_layer_missing`,
            /// `feature_not_entitled`...).
            pub fn code(&self) -> &'static str {
                self.0.code()
            }

            /// The response, made by the gate.
            fn gate_response(&self) -> $crate::__private::GateResponse {
                self.0.to_response()
            }
        }

        impl ::core::convert::From<$core> for $name {
            fn from(rejection: $core) -> Self {
                $name(rejection)
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
/// `Debug`, `Clone`, `Display`, `Error`, `From` each leaf, `status()`, `code()` and a private
/// `gate_response()` (the leaf's). With `; from Refusal` at the end (the enum then has the
/// leaves `KelviqUnavailable` and `FeatureNotEntitled`), also `From<Refusal>`, which picks
/// the leaf a refusal is. The adapter adds its framework's response impl, which only
/// converts `gate_response()`. For kelviq-axum and kelviq-actix; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __composite_rejection {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? } ; from Refusal) => {
        $crate::__composite_rejection! { $(#[$meta])* $name { $($(#[$vmeta])* $variant),+ } }

        impl ::core::convert::From<$crate::__private::Refusal> for $name {
            fn from(refusal: $crate::__private::Refusal) -> Self {
                if refusal.is_unavailable() {
                    $name::KelviqUnavailable(KelviqUnavailable::from(refusal))
                } else {
                    $name::FeatureNotEntitled(FeatureNotEntitled::from(refusal))
                }
            }
        }
    };
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

        impl $name {
            /// The status answered (a gate's denial handler may answer with another).
            pub fn status(&self) -> $crate::gate::StatusCode {
                match self {
                    $($name::$variant(rejection) => rejection.status(),)+
                }
            }

            /// The `code` of the problem details (`kelviq_layer_missing`,
            /// `feature_not_entitled`...).
            pub fn code(&self) -> &'static str {
                match self {
                    $($name::$variant(rejection) => rejection.code(),)+
                }
            }

            /// The response, made by the gate.
            fn gate_response(&self) -> $crate::__private::GateResponse {
                match self {
                    $($name::$variant(rejection) => rejection.gate_response(),)+
                }
            }
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

/// Declares the rejections both adapters share, over [`LayerMissing`] and [`Refusal`]:
/// the leaves `MissingKelviqLayer` (with a `Default` giving `advice`), `FeatureNotEntitled`
/// and `KelviqUnavailable`, and the enums `RequestSnapshotRejection` and
/// `EntitledRejection` (see [`__leaf_rejection!`](crate::__leaf_rejection) and
/// [`__composite_rejection!`](crate::__composite_rejection)). `layer` names the adapter's
/// layer or middleware in the docs (a link), `fix` says how to add it, `extract` is the path
/// of the module of its extractors. The adapter adds its framework's response impls. For
/// kelviq-axum and kelviq-actix; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __rejections {
    (layer: $layer:literal, fix: $fix:literal, advice: $advice:literal, extract: $extract:literal $(,)?) => {
        $crate::__leaf_rejection! {
            layer_missing:
            #[doc = ::core::concat!(
                "The request did not go through ", $layer, ", so there is no customer or ",
                "entitlement to extract: `500`, code `kelviq_layer_missing`. A mistake in the ",
                "app: ", $fix, ". The extractors never call Kelviq themselves."
            )]
            MissingKelviqLayer
        }

        impl ::core::default::Default for MissingKelviqLayer {
            fn default() -> Self {
                MissingKelviqLayer::from($crate::__private::LayerMissing::new($advice))
            }
        }

        $crate::__leaf_rejection! {
            denial:
            #[doc = ::core::concat!(
                "The customer is not entitled to the feature: `403` `feature_not_entitled`, or ",
                "`usage_limit_reached` for a hard-limited meter with nothing left, with the ",
                "gate's [limit status](kelviq_client::gate::GateBuilder::limit_reached_status) — ",
                "the same answer as ", $layer, "'s (its denial handler's, if the gate has one)."
            )]
            FeatureNotEntitled
        }

        $crate::__leaf_rejection! {
            denial:
            #[doc = ::core::concat!(
                "There are no entitlements to hand out: ", $layer, " let the request through ",
                "while Kelviq could not be reached (`FailurePolicy::Allow`): `503` ",
                "`kelviq_unavailable`, or the gate's denial handler's answer."
            )]
            KelviqUnavailable
        }

        $crate::__composite_rejection! {
            #[doc = ::core::concat!("Why the [`RequestSnapshot`](", $extract, "::RequestSnapshot) extractor refused.")]
            RequestSnapshotRejection {
                /// No Kelviq layer or middleware in front of the route: `500`.
                MissingKelviqLayer,
                /// It let the request through without entitlements: `503`.
                KelviqUnavailable,
            }
        }

        $crate::__composite_rejection! {
            #[doc = ::core::concat!("Why the [`Entitled`](", $extract, "::Entitled) extractor refused.")]
            EntitledRejection {
                /// No Kelviq layer or middleware in front of the route: `500`.
                MissingKelviqLayer,
                /// It let the request through without entitlements: `503`.
                KelviqUnavailable,
                /// The customer may not use the feature: `403` or the gate's limit status.
                FeatureNotEntitled,
            };
            from Refusal
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_layer_answers_500_with_its_advice() {
        let missing = LayerMissing::new("add the layer");
        let response = missing.to_response();
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.body().as_ref(),
            concat!(
                r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#kelviq-layer-missing","#,
                r#""title":"Internal Server Error","status":500,"#,
                r#""detail":"no Kelviq context in the request: add the layer","code":"kelviq_layer_missing"}"#
            )
            .as_bytes()
        );
    }
}
