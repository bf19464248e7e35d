//! Placeholder: filled by the resource's implementation.

use crate::client::Kelviq;

/// Handle for the `charges` resource.
#[derive(Debug, Clone, Copy)]
pub struct Charges<'a> {
    #[allow(dead_code)]
    client: &'a Kelviq,
}

impl<'a> Charges<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        Charges { client }
    }
}
