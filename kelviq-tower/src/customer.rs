//! Where the customer id of a request comes from: the [`CustomerIdSource`] trait and its
//! implementations for the sources of [`kelviq_client::gate`].
//!
//! The recommended source is a request extension set by your own authentication layer
//! ([`FromExtension`], by default [`CustomerId`]): the id then comes from a credential you
//! verified. [`FromHeader`] reads a header (only behind a trusted proxy), and [`FromFn`]
//! runs a closure over the [`RequestHead`]. Framework adapters add their own (kelviq-axum's
//! `FromPath` reads a path parameter of the matched route).

use std::sync::Arc;

use http::{Extensions, HeaderMap, Method, Request, Uri};
use kelviq_client::gate::{FromExtension, FromFn, FromHeader};

#[cfg(doc)]
use kelviq_client::gate::CustomerId;

/// The parts of a request a customer id may be read from.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestHead<'a> {
    /// The method.
    pub method: &'a Method,
    /// The URI.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The extensions set by earlier layers.
    pub extensions: &'a Extensions,
}

impl<'a> RequestHead<'a> {
    /// The head of `request`.
    pub fn of<B>(request: &'a Request<B>) -> Self {
        RequestHead {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }
}

/// Finds the customer id of a request, for [`KelviqLayer::customer`](crate::KelviqLayer::customer).
/// `None` (or an empty id) answers `401` `missing_customer`.
///
/// Implemented for [`FromExtension<T>`] (the default, [`CustomerId`]), [`FromHeader`] and
/// [`FromFn`]; implement it for a source of your own.
pub trait CustomerIdSource: Clone + Send + Sync + 'static {
    /// The customer id of the request, if it names one.
    fn customer_id(&self, head: RequestHead<'_>) -> Option<Arc<str>>;
}

/// Reads the id from a request extension of type `T`, set by your authentication layer
/// (which must run before the Kelviq layer). A [`CustomerId`] is shared, not copied.
impl<T> CustomerIdSource for FromExtension<T>
where
    T: AsRef<str> + Send + Sync + 'static,
{
    fn customer_id(&self, head: RequestHead<'_>) -> Option<Arc<str>> {
        head.extensions.get::<T>().map(FromExtension::<T>::id_of)
    }
}

/// Reads the id from the header [`FromHeader::name`]; a value that is not visible ASCII
/// counts as no id.
///
/// **Only behind a trusted proxy that sets this header itself and strips it from client
/// requests.** Otherwise any client can claim to be any customer and use their plan.
impl CustomerIdSource for FromHeader {
    fn customer_id(&self, head: RequestHead<'_>) -> Option<Arc<str>> {
        head.headers
            .get(self.name())
            .and_then(|value| value.to_str().ok())
            .map(Arc::from)
    }
}

/// Runs the closure over the request head. Name the closure's argument type, so that it
/// accepts a head of any lifetime:
///
/// ```
/// use kelviq_tower::{FromFn, KelviqLayer, RequestHead};
///
/// # fn layer(gate: kelviq_client::gate::Gate) {
/// let from_path = FromFn::new(|head: RequestHead<'_>| {
///     head.uri.path().strip_prefix("/customers/").map(str::to_owned)
/// });
/// let layer = KelviqLayer::new(gate).customer(from_path);
/// # }
/// ```
impl<F> CustomerIdSource for FromFn<F>
where
    F: Fn(RequestHead<'_>) -> Option<String> + Clone + Send + Sync + 'static,
{
    fn customer_id(&self, head: RequestHead<'_>) -> Option<Arc<str>> {
        (self.get())(head).map(Arc::from)
    }
}
