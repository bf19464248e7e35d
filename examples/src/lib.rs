//! Runnable example apps for kelviq-rs.
//!
//! The example apps (axum, actix-web, a tour of every client call, the blocking client)
//! arrive with the crates they show. Until then the project's main job is the fake
//! Kelviq server: `cargo run -p kelviq-mock`.
