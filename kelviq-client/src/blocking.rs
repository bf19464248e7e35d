//! The client without `async`: [`Kelviq`] with the same resources and methods, each
//! driving the async client on a private runtime (one implementation of each call).
//!
//! ```
//! # let mock_runtime = tokio::runtime::Runtime::new().unwrap();
//! # let mock = mock_runtime.block_on(kelviq_mock::MockServer::start());
//! use kelviq_client::ReportUsage;
//! use kelviq_client::blocking::Kelviq;
//!
//! let kelviq = Kelviq::from_async(
//!     kelviq_client::Kelviq::builder()
//!         .access_token(mock.token())
//!         .api_url(mock.url())
//!         .edge_url(mock.edge_url())
//!         .build()?,
//! )?;
//! if kelviq.entitlements().has_access("cust_pro", "api-calls")? {
//!     kelviq.reporting().report_usage(ReportUsage::delta("cust_pro", "api-calls", 1))?;
//! }
//! # Ok::<(), kelviq_client::Error>(())
//! ```
//!
//! The runtime has one worker thread and lives as long as the client (and its clones):
//! work the client starts in the background keeps running between calls.
//!
//! Inside an async runtime (a tokio task, or a `spawn_blocking` thread of a runtime) every
//! method returns [`Error::Blocking`] instead of blocking a worker
//! or panicking: use the async client there ([`Kelviq::as_async`]).

use std::future::Future;
use std::sync::Arc;

use std::time::Duration;

use crate::cache::CachedSnapshot;
use crate::error::{Error, Result};
use crate::meter::{ShutdownReport, UsageMeter};
use crate::models::{
    ArchivedCustomer, CancelledSubscription, Charge, CheckoutSession, Customer, Entitlement,
    Entitlements, EventReport, LicenseActivation, LicenseDeactivation, LicenseValidation, Page,
    PaymentMethod, PortalSession, RawEntitlements, Refund, Subscription, SubscriptionUpdatePreview,
    Transaction, UpdatedSubscription, UsageReport,
};
use crate::resources::{
    ActivateLicense, CancelSubscription, CreateCharge, CreateCheckoutSession, CreateCustomer,
    CreateRefund, CreateSubscription, ListCustomers, ListPaymentMethods, ListRefunds,
    ListSubscriptions, ListTransactions, PreviewSubscriptionUpdate, ReportEvent, ReportUsage,
    UpdateCustomer, UpdateSubscription,
};

/// The blocking client. Cheap to clone; clones share the runtime and connection pool.
#[derive(Clone, Debug)]
pub struct Kelviq {
    inner: crate::Kelviq,
    runtime: Arc<Runtime>,
}

/// The private runtime; shut down without blocking when the last client is dropped, so
/// dropping a client inside an async context does not panic.
#[derive(Debug)]
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

const IN_ASYNC_CONTEXT: &str = "the blocking Kelviq client cannot run inside an async runtime: \
     use the async client (blocking::Kelviq::as_async) there";

impl Kelviq {
    /// Wraps an async client.
    ///
    /// # Errors
    ///
    /// [`Error::Blocking`] inside an async runtime; [`Error::Config`] if the runtime cannot
    /// be created.
    pub fn from_async(client: crate::Kelviq) -> Result<Self> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::Blocking(IN_ASYNC_CONTEXT));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kelviq-blocking")
            .enable_all()
            .build()
            .map_err(|error| {
                Error::Config(format!("cannot start the client's runtime: {error}"))
            })?;
        Ok(Kelviq {
            inner: client,
            runtime: Arc::new(Runtime(Some(runtime))),
        })
    }

    /// A sandbox client with default options (see [`crate::Kelviq::new`]).
    ///
    /// # Errors
    ///
    /// As [`crate::Kelviq::new`] and [`Kelviq::from_async`].
    pub fn new(access_token: impl Into<String>) -> Result<Self> {
        Kelviq::from_async(crate::Kelviq::new(access_token)?)
    }

    /// A client configured from the environment (see [`crate::Kelviq::from_env`]).
    ///
    /// # Errors
    ///
    /// As [`crate::Kelviq::from_env`] and [`Kelviq::from_async`].
    pub fn from_env() -> Result<Self> {
        Kelviq::from_async(crate::Kelviq::from_env()?)
    }

    /// The async client inside, for code that runs in an async context.
    pub fn as_async(&self) -> &crate::Kelviq {
        &self.inner
    }

    /// The customer's entitlements snapshot (see
    /// [`crate::Kelviq::entitlements_snapshot`]).
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Blocking`] inside an async runtime.
    pub fn entitlements_snapshot(&self, customer_id: &str) -> Result<CachedSnapshot> {
        self.block_on(self.inner.entitlements_snapshot(customer_id))
    }

    /// Forgets the customer's cached entitlements (see
    /// [`crate::Kelviq::invalidate_entitlements`]).
    pub fn invalidate_entitlements(&self, customer_id: &str) {
        self.inner.invalidate_entitlements(customer_id);
    }

    /// The client's usage meter (see [`crate::Kelviq::usage_meter`]), started on this
    /// client's runtime the first time: it keeps flushing between calls. Its settings are
    /// the async client's ([`KelviqBuilder::usage_meter`](crate::KelviqBuilder::usage_meter)).
    ///
    /// # Errors
    ///
    /// [`Error::Blocking`] when the runtime is gone.
    pub fn usage_meter(&self) -> Result<UsageMeter> {
        let Some(runtime) = &self.runtime.0 else {
            return Err(Error::Blocking(
                "the blocking client's runtime has shut down",
            ));
        };
        let _entered = runtime.enter();
        self.inner.usage_meter().cloned()
    }

    /// Shuts a meter down, waiting at most `deadline` (see [`UsageMeter::shutdown`]).
    ///
    /// # Errors
    ///
    /// [`Error::Blocking`] inside an async runtime.
    pub fn shutdown_meter(&self, meter: &UsageMeter, deadline: Duration) -> Result<ShutdownReport> {
        self.block_on(async { Ok(meter.shutdown(deadline).await) })
    }

    fn block_on<T>(&self, future: impl Future<Output = Result<T>>) -> Result<T> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::Blocking(IN_ASYNC_CONTEXT));
        }
        match &self.runtime.0 {
            Some(runtime) => runtime.block_on(future),
            None => Err(Error::Blocking(
                "the blocking client's runtime has shut down",
            )),
        }
    }
}

/// Declares a blocking handle whose methods call the async handle's methods of the same
/// name on the private runtime.
macro_rules! blocking_resource {
    (
        $(#[$meta:meta])*
        $handle:ident => $accessor:ident {
            $( fn $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $handle<'a> {
            client: &'a Kelviq,
        }

        impl Kelviq {
            #[doc = concat!("Blocking form of [`crate::Kelviq::", stringify!($accessor), "`].")]
            pub fn $accessor(&self) -> $handle<'_> {
                $handle { client: self }
            }
        }

        impl $handle<'_> {
            $(
                #[doc = concat!(
                    "Blocking form of [`crate::", stringify!($handle), "::", stringify!($method), "`].\n\n",
                    "# Errors\n\n",
                    "As the async method, and [`Error::Blocking`] inside an async runtime."
                )]
                pub fn $method(&self, $($arg: $ty),*) -> Result<$ret> {
                    self.client.block_on(self.client.inner.$accessor().$method($($arg),*))
                }
            )+
        }
    };
}

blocking_resource! {
    /// Blocking handle for customers.
    CustomersApi => customers {
        fn list(params: ListCustomers) -> Page<Customer>;
        fn create(params: CreateCustomer) -> Customer;
        fn retrieve(customer_id: &str) -> Customer;
        fn update(customer_id: &str, params: UpdateCustomer) -> Customer;
        fn archive(customer_id: &str) -> ArchivedCustomer;
    }
}

blocking_resource! {
    /// Blocking handle for entitlement checks.
    EntitlementsApi => entitlements {
        fn has_access(customer_id: &str, feature_id: &str) -> bool;
        fn get_entitlement(customer_id: &str, feature_id: &str) -> Option<Entitlement>;
        fn get_all_entitlements(customer_id: &str) -> Entitlements;
        fn get_raw_entitlement(customer_id: &str, feature_id: &str) -> RawEntitlements;
        fn get_raw_entitlements(customer_id: &str) -> RawEntitlements;
    }
}

blocking_resource! {
    /// Blocking handle for usage and event reporting.
    ReportingApi => reporting {
        fn report_usage(params: ReportUsage) -> UsageReport;
        fn report_event(params: ReportEvent) -> EventReport;
    }
}

blocking_resource! {
    /// Blocking handle for subscriptions.
    SubscriptionsApi => subscriptions {
        fn list(params: ListSubscriptions) -> Page<Subscription>;
        fn retrieve(subscription_id: &str) -> Subscription;
        fn create(params: CreateSubscription) -> Subscription;
        fn cancel(subscription_id: &str, params: CancelSubscription) -> CancelledSubscription;
        fn update(subscription_id: &str, params: UpdateSubscription) -> UpdatedSubscription;
        fn preview_update(subscription_id: &str, params: PreviewSubscriptionUpdate) -> SubscriptionUpdatePreview;
    }
}

blocking_resource! {
    /// Blocking handle for checkout sessions.
    CheckoutApi => checkout {
        fn create_session(params: CreateCheckoutSession) -> CheckoutSession;
    }
}

blocking_resource! {
    /// Blocking handle for customer portal sessions.
    PortalApi => portal {
        fn create_session(customer_id: &str) -> PortalSession;
    }
}

blocking_resource! {
    /// Blocking handle for license keys.
    LicenseApi => license {
        fn activate(params: ActivateLicense) -> LicenseActivation;
        fn deactivate(license_key: &str, instance_id: &str) -> LicenseDeactivation;
        fn validate(license_key: &str, instance_id: Option<&str>) -> LicenseValidation;
    }
}

blocking_resource! {
    /// Blocking handle for one-time charges.
    ChargesApi => charges {
        fn create(params: CreateCharge) -> Charge;
    }
}

blocking_resource! {
    /// Blocking handle for refunds.
    RefundsApi => refunds {
        fn list(params: ListRefunds) -> Page<Refund>;
        fn create(params: CreateRefund) -> Refund;
        fn retrieve(refund_id: &str) -> Refund;
    }
}

blocking_resource! {
    /// Blocking handle for transactions.
    TransactionsApi => transactions {
        fn list(params: ListTransactions) -> Page<Transaction>;
    }
}

blocking_resource! {
    /// Blocking handle for saved payment methods.
    PaymentMethodsApi => payment_methods {
        fn list(params: ListPaymentMethods) -> Page<PaymentMethod>;
    }
}
