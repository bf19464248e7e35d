//! Placeholder: filled by the resource's implementation.

use crate::client::Kelviq;

/// Handle for the `transactions` resource.
#[derive(Debug, Clone, Copy)]
pub struct Transactions<'a> {
    #[allow(dead_code)]
    client: &'a Kelviq,
}

impl<'a> Transactions<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        Transactions { client }
    }
}
