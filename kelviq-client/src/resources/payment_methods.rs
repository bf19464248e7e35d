//! Placeholder: filled by the resource's implementation.

use crate::client::Kelviq;

/// Handle for the `payment_methods` resource.
#[derive(Debug, Clone, Copy)]
pub struct PaymentMethods<'a> {
    #[allow(dead_code)]
    client: &'a Kelviq,
}

impl<'a> PaymentMethods<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        PaymentMethods { client }
    }
}
