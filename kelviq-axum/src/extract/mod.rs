//! Extractors for handlers behind a [`KelviqLayer`](crate::KelviqLayer).
//!
//! They read the [`RequestContext`](kelviq_client::gate::RequestContext) the layer left in
//! the request, without I/O: they never call Kelviq themselves. Used on a route without
//! the layer, each answers `500` `kelviq_layer_missing`, naming the missing layer
//! ([`MissingKelviqLayer`](crate::rejection::MissingKelviqLayer)).
//!
//! | extractor | gives | refuses with | `Option<_>` is `None` |
//! |---|---|---|---|
//! | [`Customer`] | the client scoped to the request's customer | | without the layer |
//! | [`RequestSnapshot`] | the customer's entitlement snapshot, as the layer admitted the request on it | `503` when the layer let the request through without one | without the layer or the snapshot |
//! | [`Entitled<F>`] | proof that the customer may use feature `F` | `403` `feature_not_entitled`; `usage_limit_reached` with the gate's limit status; `503` without a snapshot | |
//! | [`UsageRecorder`] | usage: an amount for the layer to meter, or recorded now | | |
//! | [`KelviqContext`] | the whole context (customer, snapshot, client, meter) | | without the layer |
//!
//! Each is a thin wrapper (dereferencing to it) over the framework-neutral value of
//! [`kelviq_client`] it extracts — [`RequestContext`](kelviq_client::gate::RequestContext),
//! [`CustomerClient`](kelviq_client::CustomerClient),
//! [`gate::RequestSnapshot`](kelviq_client::gate::RequestSnapshot),
//! [`gate::Entitled`](kelviq_client::gate::Entitled),
//! [`gate::UsageRecorder`](kelviq_client::gate::UsageRecorder) — so that kelviq-actix
//! extracts the same.
//! The client itself is `State<Kelviq>` (implement `FromRef` for your state).

mod context;
mod customer;
mod entitled;
mod snapshot;
mod usage;

pub use context::KelviqContext;
pub use customer::Customer;
pub use entitled::Entitled;
pub use snapshot::RequestSnapshot;
pub use usage::UsageRecorder;
