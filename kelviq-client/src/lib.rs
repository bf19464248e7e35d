//! Client for the [Kelviq](https://kelviq.com) billing and entitlements API.
//!
//! This crate will hold the whole REST API (async and blocking), the per-customer
//! entitlement cache, the background usage meter, webhook verification and the
//! framework-neutral gate that `kelviq-tower`, `kelviq-axum` and `kelviq-actix` share.
//!
//! It is a placeholder: nothing is implemented yet. The work is tracked in the
//! project's issues ("kelviq-client: the whole Kelviq REST API, async and blocking").
