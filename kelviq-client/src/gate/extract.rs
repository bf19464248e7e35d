//! What a handler is handed from a request the gate let through, framework-neutral: the
//! snapshot the request was admitted on ([`RequestSnapshot`]), proof that its customer may
//! use a feature ([`Entitled<F>`]), and the request's usage ([`UsageRecorder`]).
//! kelviq-axum and kelviq-actix wrap each in a thin extractor of the same name; the data
//! and its logic live here, once.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use crate::cache::Snapshot;
use crate::error::Result;
use crate::models::Entitlement;

use super::context::RequestContext;
use super::denial::Denial;
use super::feature::Feature;

/// The entitlement snapshot a gate admitted a request on (shared, not copied), and whether
/// it was stale. Dereferences to the [`Snapshot`]: `snapshot.has_access("reports")`,
/// `snapshot.get("api-calls")`, `snapshot.to_entitlements()` (serializable).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kelviq_client::Error> {
/// # let mock = kelviq_mock::MockServer::start().await;
/// # let kelviq = kelviq_client::Kelviq::builder()
/// #     .access_token(mock.token()).api_url(mock.url()).edge_url(mock.edge_url()).build()?;
/// use kelviq_client::gate::{Admission, RequestSnapshot};
///
/// let gate = kelviq.gate().build()?;
/// let context = match gate.admit(Some("cust_pro".into())) {
///     Admission::Ready(ready) => ready,
///     Admission::Loading(loading) => loading.await,
/// }
/// .expect("cust_pro is known");
/// let snapshot = RequestSnapshot::of(&context).expect("loaded");
/// assert!(snapshot.has_access("reports") && !snapshot.is_stale());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RequestSnapshot {
    snapshot: Arc<Snapshot>,
    stale: bool,
}

impl RequestSnapshot {
    /// The snapshot `context` was admitted on; `None` when the gate let the request through
    /// without one (Kelviq unreachable, [`FailurePolicy::Allow`](super::FailurePolicy::Allow)).
    pub fn of(context: &RequestContext) -> Option<Self> {
        context.snapshot().map(|snapshot| RequestSnapshot {
            snapshot: Arc::clone(snapshot),
            stale: context.is_stale(),
        })
    }

    /// The snapshot, shared.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The snapshot, unwrapped.
    pub fn into_snapshot(self) -> Arc<Snapshot> {
        self.snapshot
    }

    /// Whether it is stale: past its TTL, served while it is refreshed or while Kelviq
    /// could not be reached ([`RequestContext::is_stale`]).
    pub fn is_stale(&self) -> bool {
        self.stale
    }
}

impl Deref for RequestSnapshot {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

/// Proof that a request's customer may use the feature `F` names (a
/// [`feature!`](crate::feature) type), judged as the gate judges ([`Entitled::of`]), with
/// the snapshot it was judged on. Dereferences to the [`RequestSnapshot`].
pub struct Entitled<F> {
    snapshot: RequestSnapshot,
    feature: PhantomData<fn() -> F>,
}

impl<F: Feature> Entitled<F> {
    /// Judges `F` on the snapshot `context` was admitted on, as the gate would, with its
    /// limit status ([`RequestContext::evaluate_feature`]); no I/O.
    ///
    /// # Errors
    ///
    /// The denial: not entitled (`403`, or the gate's limit status for a hard limit
    /// reached), or no snapshot because the gate let the request through while Kelviq
    /// could not be reached ([`Denial::no_snapshot`], `503`: the failure policy covers the
    /// gate's own requirements). Answer it with [`RequestContext::deny`].
    pub fn of(context: &RequestContext) -> std::result::Result<Self, Denial> {
        let snapshot = RequestSnapshot::of(context).ok_or_else(Denial::no_snapshot)?;
        context
            .evaluate_feature(F::ID)
            .unwrap_or_else(|| Err(Denial::no_snapshot()))?;
        Ok(Entitled {
            snapshot,
            feature: PhantomData,
        })
    }

    /// The feature's entitlement: limit, usage, remaining...
    pub fn entitlement(&self) -> Option<Entitlement> {
        self.snapshot.get(F::ID)
    }
}

impl<F> Entitled<F> {
    /// The snapshot the feature was judged on.
    pub fn snapshot(&self) -> &RequestSnapshot {
        &self.snapshot
    }
}

impl<F> Deref for Entitled<F> {
    type Target = RequestSnapshot;

    fn deref(&self) -> &RequestSnapshot {
        &self.snapshot
    }
}

impl<F> Clone for Entitled<F> {
    fn clone(&self) -> Self {
        Entitled {
            snapshot: self.snapshot.clone(),
            feature: PhantomData,
        }
    }
}

impl<F: Feature> fmt::Debug for Entitled<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entitled")
            .field("feature", &F::ID)
            .field("stale", &self.snapshot.stale)
            .finish_non_exhaustive()
    }
}

/// Usage of a request's customer, for amounts only the handler knows:
///
/// - [`set_amount`](UsageRecorder::set_amount): the amount the gate meters for this
///   request instead of its configured one, on its metered feature
///   ([`GateBuilder::meter`](super::GateBuilder::meter)), and only if the response is a
///   success. Nothing is metered under a gate that does not meter. A
///   [`UsageAmount`](super::UsageAmount) response extension, if the handler also sets one,
///   wins.
/// - [`reserve`](UsageRecorder::reserve): for an amount learnt while the handler works,
///   holds up to so many units of the metered feature's hard limit first; the gate then
///   meters at most the hold ([`RequestContext::reserve`]).
/// - [`record`](UsageRecorder::record): records usage of any feature now, with the client's
///   meter, whatever the response.
#[derive(Debug, Clone)]
pub struct UsageRecorder {
    context: RequestContext,
}

impl UsageRecorder {
    /// The usage of the request of `context`.
    pub fn new(context: RequestContext) -> Self {
        UsageRecorder { context }
    }

    /// Records `amount` units of `feature` (an id, or a [`feature!`](crate::feature) type)
    /// for the request's customer with the client's meter now, whatever the response,
    /// without waiting.
    ///
    /// # Errors
    ///
    /// As [`UsageMeter::record`](crate::meter::UsageMeter::record):
    /// [`Error::Validation`](crate::Error::Validation) for an empty feature id,
    /// [`Error::MeterClosed`](crate::Error::MeterClosed) after the meter shut down.
    pub fn record<'a>(&self, feature: impl Into<Cow<'a, str>>, amount: i64) -> Result<()> {
        self.context
            .meter()
            .record(self.context.customer_id(), &feature.into(), amount)
    }

    /// Asks the gate to meter `amount` for this request, if its response is a success,
    /// instead of its configured amount ([`RequestContext::set_usage_amount`]). The last
    /// call wins.
    pub fn set_amount(&self, amount: i64) {
        self.context.set_usage_amount(amount);
    }

    /// The amount given to [`set_amount`](UsageRecorder::set_amount), if any.
    pub fn amount(&self) -> Option<i64> {
        self.context.usage_amount()
    }

    /// Holds up to `units` of the gate's metered feature in total for this request, before
    /// doing work whose amount is known only once done; answers the units held (fewer than
    /// asked when the hard limit leaves fewer). The gate then meters the amount
    /// [`set_amount`](UsageRecorder::set_amount) gives, capped at the hold, and gives back
    /// the rest. See [`RequestContext::reserve`]; without a hard limit, `units` as is.
    ///
    /// # Errors
    ///
    /// A [`Denial`] (`usage_limit_reached`, with the gate's limit status) when the request
    /// holds nothing and the limit leaves nothing. The adapters' extractors answer it as
    /// their `FeatureNotEntitled` rejection.
    pub async fn reserve(&self, units: i64) -> std::result::Result<i64, Denial> {
        self.context.reserve(units).await
    }

    /// The customer usage is recorded for.
    pub fn customer_id(&self) -> &str {
        self.context.customer_id()
    }

    /// The request's context.
    pub fn context(&self) -> &RequestContext {
        &self.context
    }
}
