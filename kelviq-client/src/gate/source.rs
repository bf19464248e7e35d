//! Where the customer id of a request comes from: the sources every adapter accepts, under
//! the same names.
//!
//! The recommended source is a request extension set by your own authentication layer
//! ([`FromExtension`], by default [`CustomerId`]): the id then comes from a credential you
//! verified. [`FromHeader`] reads a header, and [`FromFn`] runs a closure over the request.
//! The adapters implement their own source trait for these types (kelviq-tower's
//! `CustomerIdSource` reads an `http::Request`, kelviq-actix's a `ServiceRequest`) and add
//! `FromPath`, which needs the framework's router.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use http::HeaderName;

/// The customer id of the current request, as an authentication layer or middleware
/// inserts it into the request extensions: the adapters' default customer source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomerId(pub Arc<str>);

impl CustomerId {
    /// A customer id.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        CustomerId(id.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for CustomerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Reads the id from a request extension of type `T` (default [`CustomerId`]), set by your
/// authentication layer, which must run before the Kelviq layer.
#[derive(Debug)]
pub struct FromExtension<T = CustomerId>(PhantomData<fn() -> T>);

impl<T> FromExtension<T> {
    /// Reads extensions of type `T`.
    pub fn new() -> Self {
        FromExtension(PhantomData)
    }
}

impl<T: AsRef<str> + 'static> FromExtension<T> {
    /// The id an extension value holds; a [`CustomerId`] is shared, not copied.
    pub fn id_of(value: &T) -> Arc<str> {
        match (value as &dyn Any).downcast_ref::<CustomerId>() {
            Some(id) => Arc::clone(&id.0),
            None => Arc::from(value.as_ref()),
        }
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

/// Reads the id from a request header.
///
/// **Only behind a trusted proxy that sets this header itself and strips it from client
/// requests.** Otherwise any client can claim to be any customer and use their plan.
#[derive(Debug, Clone)]
pub struct FromHeader(HeaderName);

impl FromHeader {
    /// Reads the header `name` (`HeaderName::from_static("x-customer-id")`).
    pub fn new(name: HeaderName) -> Self {
        FromHeader(name)
    }

    /// Reads the header `name`, given as a literal.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid lowercase header name, naming it: a mistake in the code
    /// that assembles the app, found when it runs.
    pub fn from_static(name: &'static str) -> Self {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(header) if header.as_str() == name => FromHeader(header),
            _ => panic!("FromHeader::from_static({name:?}): not a valid lowercase header name"),
        }
    }

    /// The header read.
    pub fn name(&self) -> &HeaderName {
        &self.0
    }
}

/// Finds the id with a closure over the request; its signature is the adapter's
/// (`Fn(RequestHead<'_>) -> Option<String>` with kelviq-tower,
/// `Fn(&ServiceRequest) -> Option<String>` with kelviq-actix). `None` or an empty id
/// answers `401`.
#[derive(Clone)]
pub struct FromFn<F>(F);

impl<F> FromFn<F> {
    /// Uses `f`.
    pub fn new(f: F) -> Self {
        FromFn(f)
    }

    /// The closure.
    pub fn get(&self) -> &F {
        &self.0
    }
}

impl<F> std::fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FromFn(..)")
    }
}

/// Checks the name of a path parameter a `FromPath` source reads: not empty, no braces or
/// slashes. For the adapters' `FromPath::new`, through [`crate::__private`].
///
/// # Panics
///
/// When the name cannot name a path parameter, with a message naming it: a mistake in the
/// code that assembles the router, found when it runs.
pub fn checked_path_param(name: &str) -> Arc<str> {
    assert!(
        !name.is_empty() && !name.contains(['{', '}', '/']),
        "FromPath::new({name:?}): a path parameter name must be non-empty, without braces or slashes"
    );
    Arc::from(name)
}
