//! Where the customer id of a request comes from.
//!
//! The recommended source is a request extension set by your own authentication layer
//! ([`FromExtension`], by default [`CustomerId`]): the id then comes from a credential you
//! verified. [`FromHeader`] reads a header, and [`FromFn`] runs a closure over the request
//! head.

use std::borrow::Cow;
use std::marker::PhantomData;

use http::{Extensions, HeaderMap, HeaderName, Method, Request, Uri};

pub use kelviq_client::gate::CustomerId;

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

/// Finds the customer id of a request. `None` (or an empty id) answers `401`.
pub trait CustomerIdSource: Clone + Send + Sync + 'static {
    /// The customer id of the request, if it has one.
    fn customer_id<'a>(&self, head: RequestHead<'a>) -> Option<Cow<'a, str>>;
}

/// Reads the id from a request extension of type `T`, set by your authentication layer.
#[derive(Debug)]
pub struct FromExtension<T>(PhantomData<fn() -> T>);

impl<T> FromExtension<T> {
    /// Reads extensions of type `T`.
    pub fn new() -> Self {
        FromExtension(PhantomData)
    }
}

impl<T> Default for FromExtension<T> {
    fn default() -> Self {
        FromExtension::new()
    }
}

impl<T> Clone for FromExtension<T> {
    fn clone(&self) -> Self {
        FromExtension::new()
    }
}

impl<T> CustomerIdSource for FromExtension<T>
where
    T: AsRef<str> + Send + Sync + 'static,
{
    fn customer_id<'a>(&self, head: RequestHead<'a>) -> Option<Cow<'a, str>> {
        head.extensions
            .get::<T>()
            .map(|id| Cow::Borrowed(id.as_ref()))
    }
}

/// Reads the id from a request header.
///
/// **Only behind a trusted proxy that sets this header itself and strips it from client
/// requests.** Otherwise any client can claim to be any customer and use their plan.
#[derive(Debug, Clone)]
pub struct FromHeader(HeaderName);

impl FromHeader {
    /// Reads the header `name`.
    pub fn new(name: HeaderName) -> Self {
        FromHeader(name)
    }
}

impl CustomerIdSource for FromHeader {
    fn customer_id<'a>(&self, head: RequestHead<'a>) -> Option<Cow<'a, str>> {
        head.headers
            .get(&self.0)
            .and_then(|value| value.to_str().ok())
            .map(Cow::Borrowed)
    }
}

/// Runs a closure over the request head.
#[derive(Clone)]
pub struct FromFn<F>(F);

impl<F> FromFn<F>
where
    F: Fn(RequestHead<'_>) -> Option<String> + Clone + Send + Sync + 'static,
{
    /// Uses `f`.
    pub fn new(f: F) -> Self {
        FromFn(f)
    }
}

impl<F> std::fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FromFn(..)")
    }
}

impl<F> CustomerIdSource for FromFn<F>
where
    F: Fn(RequestHead<'_>) -> Option<String> + Clone + Send + Sync + 'static,
{
    fn customer_id<'a>(&self, head: RequestHead<'a>) -> Option<Cow<'a, str>> {
        (self.0)(head).map(Cow::Owned)
    }
}
