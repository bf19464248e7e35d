//! [axum](https://docs.rs/axum) integration for Kelviq: extractors for the client, the
//! current customer, its entitlements and typed `Entitled<F>` guards, plus route helpers
//! built on `kelviq-tower`.
//!
//! It is a placeholder: nothing is implemented yet. The work is tracked in the
//! project's issues ("kelviq-tower KelviqLayer and kelviq-axum extractors").
