//! [`PathCustomer`]: the customer id from a path parameter of the matched route.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::MatchedPath;
use kelviq_tower::{CustomerIdSource, RequestHead};

/// Reads the customer id from the path parameter `name` of the route that matched
/// (`/customers/{id}/reports` with `PathCustomer::new("id")`), percent-decoded.
///
/// Use it with `route_layer`, which runs after routing: the layer needs axum's
/// `MatchedPath`. Works in nested routers; the parameter must not be followed by a
/// wildcard segment. Only for routes where the path really is the identity (an admin API
/// behind its own authorization): otherwise any caller can name any customer.
#[derive(Debug, Clone)]
pub struct PathCustomer {
    placeholder: Arc<str>,
}

impl PathCustomer {
    /// Reads the parameter `name`.
    pub fn new(name: &str) -> Self {
        PathCustomer {
            placeholder: format!("{{{name}}}").into(),
        }
    }
}

impl CustomerIdSource for PathCustomer {
    fn customer_id<'a>(&self, head: RequestHead<'a>) -> Option<Cow<'a, str>> {
        // The matched template is the full path, but inside a nested router the URI has
        // lost the nest prefix: count segments from the end, where both agree.
        let template: Vec<&str> = head
            .extensions
            .get::<MatchedPath>()?
            .as_str()
            .split('/')
            .collect();
        let from_end = template.len()
            - 1
            - template
                .iter()
                .position(|segment| *segment == &*self.placeholder)?;
        let path: Vec<&str> = head.uri.path().split('/').collect();
        let raw = path.get(path.len().checked_sub(1 + from_end)?)?;
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()?;
        Some(Cow::Owned(decoded.into_owned()))
    }
}
