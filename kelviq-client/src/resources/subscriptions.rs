//! Placeholder: filled by the resource's implementation.

use crate::client::Kelviq;

/// Handle for the `subscriptions` resource.
#[derive(Debug, Clone, Copy)]
pub struct Subscriptions<'a> {
    #[allow(dead_code)]
    client: &'a Kelviq,
}

impl<'a> Subscriptions<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        Subscriptions { client }
    }
}
