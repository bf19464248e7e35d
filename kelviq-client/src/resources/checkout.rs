//! Placeholder: filled by the resource's implementation.

use crate::client::Kelviq;

/// Handle for the `checkout` resource.
#[derive(Debug, Clone, Copy)]
pub struct Checkout<'a> {
    #[allow(dead_code)]
    client: &'a Kelviq,
}

impl<'a> Checkout<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        Checkout { client }
    }
}
