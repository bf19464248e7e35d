//! Extractors for handlers behind [`KelviqLayer`](kelviq_tower::KelviqLayer).
//!
//! | extractor | gives | without the layer |
//! |---|---|---|
//! | [`Customer`] | the client scoped to the request's customer | from a [`CustomerId`](kelviq_tower::CustomerId) extension and `Kelviq` in the state, else `500` |
//! | [`Entitlements`] | the customer's entitlement snapshot | loads it the same way |
//! | [`Entitled<F>`] | proof that the customer has feature `F` (`403` otherwise) | loads the snapshot the same way |
//! | [`UsageRecorder`] | records a dynamic amount of usage with the meter | `500` |
//!
//! The client itself is `State<Kelviq>` (implement `FromRef` for your state).

mod context;
mod customer;
mod entitled;
mod entitlements;
mod usage;

pub use customer::Customer;
pub use entitled::Entitled;
pub use entitlements::Entitlements;
pub use usage::UsageRecorder;
