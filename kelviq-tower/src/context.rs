//! What the layer leaves in the request for handlers ([`KelviqContext`]), and what
//! handlers leave in the response for the layer ([`UsageAmount`]); both are
//! `kelviq_client::gate` types, shared with the actix-web adapter.

pub use kelviq_client::gate::RequestContext as KelviqContext;
pub use kelviq_client::gate::UsageAmount;
