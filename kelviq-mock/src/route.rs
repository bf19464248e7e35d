//! The operations the mock serves, one [`Route`] per HTTP method and path of
//! `kelviq-api.md` section 4.

use std::fmt;

use http::Method;

/// Which of the two listeners an operation lives on, as on the real service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Base {
    /// The API base URL (`https://api.kelviq.com` in production): everything but entitlements.
    Api,
    /// The edge base URL (`https://edge.api.kelviq.com` in production): entitlements only.
    Edge,
}

/// An API version the mock serves, the `v1` of `/api/v1/...`: every route answers under
/// each of them, with the same behaviour, and any other version is a 404.
///
/// The official SDK puts its `api_version` option (default `v1`) into every path, on both
/// hosts; [`RecordedRequest::api_version`](crate::RecordedRequest::api_version) tells which
/// one a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `/api/v1`, the official SDK's default.
    V1,
    /// `/api/v2`.
    V2,
}

impl ApiVersion {
    /// Every version the mock serves.
    pub const ALL: [ApiVersion; 2] = [ApiVersion::V1, ApiVersion::V2];

    /// The path segment, `v1` or `v2`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        }
    }

    /// The version a request path starts with (`/api/v2/...` → `V2`), if the mock serves it.
    pub fn of_path(path: &str) -> Option<ApiVersion> {
        let rest = path.strip_prefix("/api/")?;
        let segment = rest.split('/').next()?;
        ApiVersion::ALL
            .into_iter()
            .find(|version| version.as_str() == segment)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operation of the Kelviq API: an HTTP method on a path template under one base URL.
///
/// Every recorded request names the route it matched ([`RecordedRequest::route`]), and fault
/// rules can target a single route ([`FaultRule::on`]).
///
/// [`RecordedRequest::route`]: crate::RecordedRequest::route
/// [`FaultRule::on`]: crate::FaultRule::on
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Route {
    /// `GET /api/v1/customers/`
    CustomersList,
    /// `POST /api/v1/customers/`
    CustomersCreate,
    /// `GET /api/v1/customers/{customer_id}/`
    CustomersRetrieve,
    /// `PATCH /api/v1/customers/{customer_id}/`
    CustomersUpdate,
    /// `DELETE /api/v1/customers/{customer_id}/`
    CustomersArchive,
    /// `POST /api/v1/checkout/`
    CheckoutCreateSession,
    /// `GET /api/v1/entitlements` on the edge listener (no trailing slash).
    Entitlements,
    /// `POST /api/v1/report/usage/`
    ReportUsage,
    /// `POST /api/v1/report/event/`
    ReportEvent,
    /// `GET /api/v1/subscriptions/`
    SubscriptionsList,
    /// `GET /api/v1/subscriptions/{subscription_id}/`
    SubscriptionsRetrieve,
    /// `POST /api/v1/subscriptions/create/`
    SubscriptionsCreate,
    /// `POST /api/v1/subscriptions/{subscription_id}/cancel/`
    SubscriptionsCancel,
    /// `POST /api/v1/subscriptions/{subscription_id}/update/`
    SubscriptionsUpdate,
    /// `POST /api/v1/subscriptions/{subscription_id}/update/preview/`
    SubscriptionsPreviewUpdate,
    /// `POST /api/v1/portal/session/`
    PortalCreateSession,
    /// `POST /api/v1/license/activate/`
    LicenseActivate,
    /// `POST /api/v1/license/deactivate/`
    LicenseDeactivate,
    /// `POST /api/v1/license/validate/`
    LicenseValidate,
    /// `POST /api/v1/charges/`
    ChargesCreate,
    /// `GET /api/v1/refunds/`
    RefundsList,
    /// `POST /api/v1/refunds/`
    RefundsCreate,
    /// `GET /api/v1/refunds/{refund_id}/`
    RefundsRetrieve,
    /// `GET /api/v1/transaction/` (singular, as on the real service).
    TransactionsList,
    /// `GET /api/v1/payment-methods/`
    PaymentMethodsList,
}

impl Route {
    /// Every route, in the order of `kelviq-api.md`'s summary table.
    pub const ALL: [Route; 25] = [
        Route::CustomersList,
        Route::CustomersCreate,
        Route::CustomersRetrieve,
        Route::CustomersUpdate,
        Route::CustomersArchive,
        Route::CheckoutCreateSession,
        Route::Entitlements,
        Route::ReportUsage,
        Route::ReportEvent,
        Route::SubscriptionsList,
        Route::SubscriptionsRetrieve,
        Route::SubscriptionsCreate,
        Route::SubscriptionsCancel,
        Route::SubscriptionsUpdate,
        Route::SubscriptionsPreviewUpdate,
        Route::PortalCreateSession,
        Route::LicenseActivate,
        Route::LicenseDeactivate,
        Route::LicenseValidate,
        Route::ChargesCreate,
        Route::RefundsList,
        Route::RefundsCreate,
        Route::RefundsRetrieve,
        Route::TransactionsList,
        Route::PaymentMethodsList,
    ];

    /// The HTTP method of this operation.
    pub fn method(self) -> Method {
        match self {
            Route::CustomersList
            | Route::CustomersRetrieve
            | Route::Entitlements
            | Route::SubscriptionsList
            | Route::SubscriptionsRetrieve
            | Route::RefundsList
            | Route::RefundsRetrieve
            | Route::TransactionsList
            | Route::PaymentMethodsList => Method::GET,
            Route::CustomersUpdate => Method::PATCH,
            Route::CustomersArchive => Method::DELETE,
            Route::CustomersCreate
            | Route::CheckoutCreateSession
            | Route::ReportUsage
            | Route::ReportEvent
            | Route::SubscriptionsCreate
            | Route::SubscriptionsCancel
            | Route::SubscriptionsUpdate
            | Route::SubscriptionsPreviewUpdate
            | Route::PortalCreateSession
            | Route::LicenseActivate
            | Route::LicenseDeactivate
            | Route::LicenseValidate
            | Route::ChargesCreate
            | Route::RefundsCreate => Method::POST,
        }
    }

    /// The full path template under `/api/v1`, `{name}` marking a path parameter, exactly
    /// as the real service spells it (trailing slashes included). The same route is served
    /// under every [`ApiVersion`]: see [`versioned_path_template`](Self::versioned_path_template).
    pub fn path_template(self) -> &'static str {
        match self {
            Route::CustomersList | Route::CustomersCreate => "/api/v1/customers/",
            Route::CustomersRetrieve | Route::CustomersUpdate | Route::CustomersArchive => {
                "/api/v1/customers/{customer_id}/"
            }
            Route::CheckoutCreateSession => "/api/v1/checkout/",
            Route::Entitlements => "/api/v1/entitlements",
            Route::ReportUsage => "/api/v1/report/usage/",
            Route::ReportEvent => "/api/v1/report/event/",
            Route::SubscriptionsList => "/api/v1/subscriptions/",
            Route::SubscriptionsRetrieve => "/api/v1/subscriptions/{subscription_id}/",
            Route::SubscriptionsCreate => "/api/v1/subscriptions/create/",
            Route::SubscriptionsCancel => "/api/v1/subscriptions/{subscription_id}/cancel/",
            Route::SubscriptionsUpdate => "/api/v1/subscriptions/{subscription_id}/update/",
            Route::SubscriptionsPreviewUpdate => {
                "/api/v1/subscriptions/{subscription_id}/update/preview/"
            }
            Route::PortalCreateSession => "/api/v1/portal/session/",
            Route::LicenseActivate => "/api/v1/license/activate/",
            Route::LicenseDeactivate => "/api/v1/license/deactivate/",
            Route::LicenseValidate => "/api/v1/license/validate/",
            Route::ChargesCreate => "/api/v1/charges/",
            Route::RefundsList | Route::RefundsCreate => "/api/v1/refunds/",
            Route::RefundsRetrieve => "/api/v1/refunds/{refund_id}/",
            Route::TransactionsList => "/api/v1/transaction/",
            Route::PaymentMethodsList => "/api/v1/payment-methods/",
        }
    }

    /// The full path template under `version`: `/api/v2/customers/{customer_id}/` for
    /// [`Route::CustomersRetrieve`] and [`ApiVersion::V2`].
    pub fn versioned_path_template(self, version: ApiVersion) -> String {
        let template = self.path_template();
        match template.strip_prefix("/api/v1/") {
            Some(rest) => format!("/api/{}/{rest}", version.as_str()),
            None => template.to_owned(),
        }
    }

    /// The listener that serves this operation.
    pub fn base(self) -> Base {
        match self {
            Route::Entitlements => Base::Edge,
            _ => Base::Api,
        }
    }

    /// The route that `method` on `template` names, if any.
    pub fn find(method: &Method, template: &str) -> Option<Route> {
        Route::ALL
            .into_iter()
            .find(|route| route.method() == method && route.path_template() == template)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method(), self.path_template())
    }
}
