//! Placeholder: filled by the resource's implementation.

use crate::client::Kelviq;

/// Handle for the `license` resource.
#[derive(Debug, Clone, Copy)]
pub struct License<'a> {
    #[allow(dead_code)]
    client: &'a Kelviq,
}

impl<'a> License<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        License { client }
    }
}
