//! What a gate decided about a request: a [`Decision`] for code that calls
//! [`Gate::check`](super::Gate::check), an [`Admission`] for adapters.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::cache::Snapshot;

use super::context::RequestContext;
use super::denial::Denial;

/// The outcome of [`Gate::check`](super::Gate::check).
///
/// The three variants are the whole set: adapters match them exhaustively.
#[derive(Debug, Clone)]
#[must_use = "a decision refuses nothing until it is acted on"]
pub enum Decision {
    /// Let the request through.
    Allow {
        /// The customer's entitlements, for handlers (put it in request extensions).
        /// `None` only when Kelviq could not be reached and the failure policy is
        /// [`Allow`](super::FailurePolicy::Allow).
        snapshot: Option<Arc<Snapshot>>,
        /// Whether the snapshot is stale: older than the cache TTL, served because Kelviq
        /// could not be reached.
        stale: bool,
    },
    /// Refuse the request: the customer is missing, unknown, or not entitled
    /// (`401` / `403`, or the configured limit status).
    Deny(Denial),
    /// Refuse the request because entitlements cannot be checked and the failure policy is
    /// [`Deny`](super::FailurePolicy::Deny) (`503`); the denial keeps the error for logging.
    Unavailable(Denial),
}

impl Decision {
    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The denial, if the request is refused (for either reason).
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Allow { .. } => None,
            Decision::Deny(denial) | Decision::Unavailable(denial) => Some(denial),
        }
    }

    /// The snapshot, if the request is allowed with one.
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        match self {
            Decision::Allow { snapshot, .. } => snapshot.as_ref(),
            Decision::Deny(_) | Decision::Unavailable(_) => None,
        }
    }

    /// The snapshot if allowed (`None` when allowed without one), else the denial.
    ///
    /// # Errors
    ///
    /// The [`Denial`] of a [`Deny`](Decision::Deny) or [`Unavailable`](Decision::Unavailable)
    /// decision.
    pub fn into_result(self) -> Result<Option<Arc<Snapshot>>, Denial> {
        match self {
            Decision::Allow { snapshot, .. } => Ok(snapshot),
            Decision::Deny(denial) | Decision::Unavailable(denial) => Err(denial),
        }
    }
}

/// What [`Gate::admit`](super::Gate::admit) answers: the adapter's whole view of a request
/// before the handler runs.
#[must_use = "an admission refuses nothing until it is acted on"]
pub enum Admission {
    /// Decided without I/O (a warm cache, or no customer id): let the request through
    /// with this context, or answer the denial
    /// ([`Gate::deny`](super::Gate::deny)).
    Ready(Result<RequestContext, Denial>),
    /// The customer's snapshot must be loaded first: await the future, then act as for
    /// [`Ready`](Admission::Ready).
    Loading(Admitting),
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Admission::Ready(ready) => f.debug_tuple("Ready").field(ready).finish(),
            Admission::Loading(_) => f.write_str("Loading(..)"),
        }
    }
}

/// The future of an admission that loads the customer's snapshot: the cold path only, so
/// it is boxed (its network call dwarfs one allocation).
#[must_use = "futures do nothing unless polled"]
pub struct Admitting {
    future: Pin<Box<dyn Future<Output = Result<RequestContext, Denial>> + Send>>,
}

impl Admitting {
    pub(super) fn new(
        future: impl Future<Output = Result<RequestContext, Denial>> + Send + 'static,
    ) -> Self {
        Admitting {
            future: Box::pin(future),
        }
    }
}

impl Future for Admitting {
    type Output = Result<RequestContext, Denial>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for Admitting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admitting(..)")
    }
}
