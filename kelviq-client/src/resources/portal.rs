//! Placeholder: filled by the resource's implementation.

use crate::client::Kelviq;

/// Handle for the `portal` resource.
#[derive(Debug, Clone, Copy)]
pub struct Portal<'a> {
    #[allow(dead_code)]
    client: &'a Kelviq,
}

impl<'a> Portal<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        Portal { client }
    }
}
