//! Where the customer id of a request comes from: [`CustomerIdSource`], implemented for
//! the sources of [`kelviq_client::gate`] — [`FromExtension`] (the default), [`FromHeader`],
//! [`FromFn`] — and for this crate's [`FromPath`], which needs actix-web's router. The
//! names are the same in kelviq-tower and kelviq-axum.
//!
//! The recommended source is a request extension set by your own authentication
//! middleware ([`FromExtension`], by default [`CustomerId`](kelviq_client::gate::CustomerId)):
//! the id then comes from a credential your code verified.

use std::sync::Arc;

use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;
use kelviq_client::__private::checked_path_param;
use kelviq_client::gate::{FromExtension, FromFn, FromHeader};

/// Finds the customer id of a request, for the
/// [`KelviqMiddleware`](crate::KelviqMiddleware). `None` or an empty id answers `401`
/// `missing_customer`.
///
/// `Clone + Send + Sync` so that a middleware can be cloned into every `HttpServer`
/// worker. Implement it for your own source, or use [`FromFn`] with a closure.
pub trait CustomerIdSource: Clone + Send + Sync + 'static {
    /// The customer id of `request`, if it has one.
    fn customer_id(&self, request: &ServiceRequest) -> Option<Arc<str>>;
}

/// Reads the request extension `T` — what `web::ReqData<T>` reads — inserted by your
/// authentication middleware, which must run before the Kelviq middleware. A
/// [`CustomerId`](kelviq_client::gate::CustomerId) is shared, not copied.
impl<T: AsRef<str> + 'static> CustomerIdSource for FromExtension<T> {
    fn customer_id(&self, request: &ServiceRequest) -> Option<Arc<str>> {
        request
            .extensions()
            .get::<T>()
            .map(FromExtension::<T>::id_of)
    }
}

/// Reads the header [`FromHeader::name`].
///
/// **Only behind a trusted proxy that sets this header itself and strips it from client
/// requests.** Otherwise any client can claim to be any customer and use their plan.
impl CustomerIdSource for FromHeader {
    fn customer_id(&self, request: &ServiceRequest) -> Option<Arc<str>> {
        // actix-web is on `http` 0.2: the name is compared by its text (lowercase in
        // both), without parsing it into an `http` 0.2 name on every request.
        let name = self.name().as_str();
        let (_, value) = request
            .headers()
            .iter()
            .find(|(candidate, _)| candidate.as_str() == name)?;
        value.to_str().ok().map(Arc::from)
    }
}

/// Runs the closure over the request.
impl<F> CustomerIdSource for FromFn<F>
where
    F: Fn(&ServiceRequest) -> Option<String> + Clone + Send + Sync + 'static,
{
    fn customer_id(&self, request: &ServiceRequest) -> Option<Arc<str>> {
        (self.get())(request).map(Arc::from)
    }
}

/// Reads the customer id from a parameter of the matched path
/// (`/customers/{customer_id}/...` with `FromPath::new("customer_id")`).
///
/// Path parameters are known only once the router has matched the scope or resource that
/// declares them: wrap **that scope or resource** with the middleware, not the app (an
/// app-wide middleware runs before routing, finds no parameter and answers `401`). Anyone
/// can put any id in a URL: check elsewhere that the caller may act for that customer.
///
/// ```
/// use kelviq_actix::prelude::*;
///
/// let source = FromPath::new("customer_id");
/// assert_eq!(source.name(), "customer_id");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromPath(Arc<str>);

impl FromPath {
    /// Reads the path parameter `name`.
    ///
    /// # Panics
    ///
    /// When `name` cannot name a path parameter (empty, or with braces or slashes), with a
    /// message naming it: a mistake in the code that assembles the app.
    pub fn new(name: &str) -> Self {
        FromPath(checked_path_param(name))
    }

    /// The parameter read.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl CustomerIdSource for FromPath {
    fn customer_id(&self, request: &ServiceRequest) -> Option<Arc<str>> {
        request.match_info().get(&self.0).map(Arc::from)
    }
}
