//! [actix-web](https://docs.rs/actix-web) integration for Kelviq: middleware that loads
//! a customer's entitlements and meters usage, guards that read them, and extractors.
//!
//! It is a placeholder: nothing is implemented yet. The work is tracked in the
//! project's issues ("kelviq-actix: middleware, guards and extractors").
