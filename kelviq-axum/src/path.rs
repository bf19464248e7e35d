//! [`FromPath`]: the customer id from a path parameter of the matched route.

use std::sync::Arc;

use axum::extract::MatchedPath;
use kelviq_client::__private::checked_path_param;
use kelviq_tower::{CustomerIdSource, RequestHead};

/// Reads the customer id from the path parameter `name` of the route that matched
/// (`/customers/{id}/reports` with `FromPath::new("id")`), percent-decoded: a source for
/// [`KelviqLayer::customer`](crate::KelviqLayer::customer).
///
/// Use the layer with `route_layer`, which runs after routing: it needs axum's
/// [`MatchedPath`]. Works in nested routers; the parameter must not be followed by a
/// wildcard segment. Only for routes where the path really is the identity (an admin API
/// behind its own authorization): otherwise any caller can name any customer.
///
/// ```
/// use axum::Router;
/// use axum::routing::get;
/// use kelviq_axum::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = kelviq_mock::MockServer::start().await;
/// # let kelviq = Kelviq::builder().access_token(mock.token()).api_url(mock.url()).edge_url(mock.edge_url()).build()?;
/// let admin = Router::new().route(
///     "/customers/{id}/usage",
///     get(|customer: Customer| async move { customer.id().to_owned() })
///         .route_layer(kelviq.gate().into_layer().customer(FromPath::new("id"))),
/// );
/// # let server = axum_test::TestServer::new(admin);
/// # server.get("/customers/cust_pro/usage").await.assert_text("cust_pro");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FromPath {
    name: Arc<str>,
    placeholder: Arc<str>,
}

impl FromPath {
    /// Reads the parameter `name` (without braces).
    ///
    /// # Panics
    ///
    /// When `name` cannot name a path parameter (empty, or with braces or slashes), with a
    /// message naming it: a mistake in the code that assembles the router
    /// ([`checked_path_param`]).
    pub fn new(name: &str) -> Self {
        let name = checked_path_param(name);
        FromPath {
            placeholder: format!("{{{name}}}").into(),
            name,
        }
    }

    /// The parameter read.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl CustomerIdSource for FromPath {
    fn customer_id(&self, head: RequestHead<'_>) -> Option<Arc<str>> {
        // The matched template is the full path, but inside a nested router the URI has
        // lost the nest prefix: count segments from the end, where both agree.
        let template = head.extensions.get::<MatchedPath>()?.as_str();
        let mut segments = template.split('/');
        segments.position(|segment| segment == &*self.placeholder)?;
        let from_end = segments.count();
        let raw = head.uri.path().split('/').rev().nth(from_end)?;
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()?;
        Some(Arc::from(decoded.as_ref()))
    }
}
