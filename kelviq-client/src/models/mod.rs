//! Response types, one file per resource, and the value sets shared by several resources.

pub(crate) mod wire_enum;

mod customers;
mod entitlements;
mod enums;
mod page;
mod reporting;

pub use customers::{ArchivedCustomer, Customer};
pub use entitlements::{EntitlementEntry, Entitlement, Entitlements, RawEntitlements};
pub use enums::{Behaviour, ChargePeriod, FeatureType, TaxBehavior};
pub use page::{FeatureQuantity, Page};
pub use reporting::{EventReport, UsageReport};
