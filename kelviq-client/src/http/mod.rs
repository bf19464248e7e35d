//! The HTTP layer: building requests, percent-encoding path segments, retries, spans.

mod path;
mod request;
mod retry;
mod transport;

pub(crate) use path::segment;
pub(crate) use request::{Base, Request};
pub use retry::RetryPolicy;
pub(crate) use transport::Transport;
