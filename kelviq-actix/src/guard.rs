//! Routing guards on the customer's entitlements: `guard::feature("reports")` (or
//! `guard::feature(Reports)` with a [`feature!`](kelviq_client::feature) type),
//! [`all_of`], [`any_of`], [`entitled`].
//!
//! A guard reads the [`RequestContext`] the [`KelviqMiddleware`](crate::KelviqMiddleware)
//! stored: guards are synchronous and cannot fetch, so **the middleware must have run
//! before the guard** — wrap the app, or a scope enclosing the guarded resource (a
//! middleware on a resource runs after that resource's own guards, but before the guards
//! of its routes).
//!
//! # A failing guard means "no match", not "forbidden"
//!
//! When a guard fails, actix-web tries the next route, and answers `404 Not Found` (or
//! `405`) when none matches — never `403`. That makes guards the tool for **routing by
//! plan**: the same path served by a different handler for customers without the feature,
//! such as an upgrade page. To *refuse* with `403` and the denial's JSON body, use the
//! gate's [`require`](kelviq_client::gate::GateBuilder::require) or the
//! [`Entitled`](crate::Entitled) extractor instead.
//!
//! ```
//! # actix_web::rt::System::new().block_on(async {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use actix_web::{App, HttpResponse, test, web};
//! use kelviq_actix::prelude::*;
//!
//! feature! {
//!     pub Reports = "reports";
//! }
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .build()?;
//! let kelviq_middleware = kelviq
//!     .gate()
//!     .into_middleware()
//!     .customer(FromHeader::from_static("x-customer-id"));
//!
//! let app = test::init_service(
//!     App::new().wrap(kelviq_middleware).service(
//!         web::resource("/reports")
//!             // Customers with `reports` get the report...
//!             .route(web::get().guard(guard::feature(Reports)).to(|| async { "the report" }))
//!             // ...everyone else falls through to the upgrade page.
//!             .route(web::get().to(|| async { HttpResponse::PaymentRequired().body("upgrade to pro") })),
//!     ),
//! )
//! .await;
//!
//! let get = |customer: &str| {
//!     test::TestRequest::get().uri("/reports").insert_header(("x-customer-id", customer)).to_request()
//! };
//! assert_eq!(test::call_and_read_body(&app, get("cust_pro")).await, "the report");
//! assert_eq!(test::call_and_read_body(&app, get("cust_free")).await, "upgrade to pro");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! A guard judges the snapshot the middleware loaded. Without one it fails: when the
//! middleware did not run or refused the request, and when Kelviq could not be reached and
//! the middleware let the request through anyway
//! ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow), no snapshot) —
//! the failure policy covers the middleware's own requirements, as for the
//! [`Entitled`](crate::Entitled) extractor.

use std::borrow::Cow;

use actix_web::guard::{Guard, GuardContext};
use kelviq_client::gate::{Feature, RequestContext};

/// Whether a [`FeatureGuard`] needs all of its features or one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Any,
}

/// A guard on the customer's entitlements; see the [module documentation](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct FeatureGuard {
    features: Vec<Cow<'static, str>>,
    mode: Mode,
}

impl FeatureGuard {
    /// The features it checks.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|feature| feature.as_ref())
    }
}

/// Matches customers entitled to `feature`, an id or a [`feature!`](kelviq_client::feature)
/// type (counting the usage this process recorded: a metered feature at its hard limit no
/// longer matches).
pub fn feature(feature: impl Into<Cow<'static, str>>) -> FeatureGuard {
    FeatureGuard {
        features: vec![feature.into()],
        mode: Mode::All,
    }
}

/// Matches customers entitled to the feature `F` names (a
/// [`feature!`](kelviq_client::feature) marker type, as in [`Entitled<F>`](crate::Entitled)).
pub fn entitled<F: Feature>() -> FeatureGuard {
    feature(F::ID)
}

/// Matches customers entitled to every one of `features` (an empty list matches every
/// customer the middleware let through).
pub fn all_of<I>(features: I) -> FeatureGuard
where
    I: IntoIterator,
    I::Item: Into<Cow<'static, str>>,
{
    FeatureGuard {
        features: features.into_iter().map(Into::into).collect(),
        mode: Mode::All,
    }
}

/// Matches customers entitled to at least one of `features` (an empty list matches no
/// one).
pub fn any_of<I>(features: I) -> FeatureGuard
where
    I: IntoIterator,
    I::Item: Into<Cow<'static, str>>,
{
    FeatureGuard {
        features: features.into_iter().map(Into::into).collect(),
        mode: Mode::Any,
    }
}

impl Guard for FeatureGuard {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        let extensions = ctx.req_data();
        let Some(snapshot) = extensions
            .get::<RequestContext>()
            .and_then(|context| context.snapshot())
        else {
            return false;
        };
        let mut entitled = self
            .features
            .iter()
            .map(|feature| snapshot.has_access(feature));
        match self.mode {
            Mode::All => entitled.all(|yes| yes),
            Mode::Any => entitled.any(|yes| yes),
        }
    }
}
