//! A [tower](https://docs.rs/tower) layer for Kelviq: take the customer id from the
//! request, gate the request on the customer's entitlements, call the inner service
//! and meter usage when the response is a success.
//!
//! It is a placeholder: nothing is implemented yet. The work is tracked in the
//! project's issues ("kelviq-tower KelviqLayer and kelviq-axum extractors").
