//! Response types, one file per resource, and the value sets shared by several resources.

pub(crate) mod wire_enum;

mod charges;
mod checkout;
mod customers;
mod entitlements;
mod enums;
mod license;
mod page;
mod payment_methods;
mod portal;
mod refunds;
mod reporting;
mod subscriptions;
mod tolerant;
mod transactions;

pub use charges::{Charge, ChargePlan, ChargeProduct};
pub use checkout::CheckoutSession;
pub use customers::{ArchivedCustomer, Customer};
pub(crate) use entitlements::FeatureIndex;
pub use entitlements::{Entitlement, EntitlementEntry, Entitlements, RawEntitlements};
pub use enums::{Behaviour, ChargePeriod, FeatureType, TaxBehavior};
pub use license::{
    LicenseActivation, LicenseCustomer, LicenseDeactivation, LicenseDetails, LicensePlan,
    LicenseValidation,
};
pub use page::{FeatureQuantity, Page};
pub use payment_methods::{
    BillingAddress, PaymentMethod, PaymentMethodCustomer, PaymentMethodStatus,
};
pub use portal::PortalSession;
pub use refunds::{RecordedRefundReason, Refund, RefundReason, RefundStatus};
pub use reporting::{EventReport, UsageReport};
pub use subscriptions::{
    BillingType, CancellationType, CancelledSubscription, LicenseSummary, NextInvoice,
    PaymentBehavior, PlanSummary, PreviewLineItem, Product, ProrationBehavior, Subscription,
    SubscriptionFile, SubscriptionLink, SubscriptionProduct, SubscriptionUpdatePreview,
    UpdatedSubscription,
};
pub use transactions::{MorFee, MorFeeName, Transaction, TransactionStatus, TransactionType};
