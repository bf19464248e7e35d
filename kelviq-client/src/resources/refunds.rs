//! Placeholder: filled by the resource's implementation.

use crate::client::Kelviq;

/// Handle for the `refunds` resource.
#[derive(Debug, Clone, Copy)]
pub struct Refunds<'a> {
    #[allow(dead_code)]
    client: &'a Kelviq,
}

impl<'a> Refunds<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        Refunds { client }
    }
}
