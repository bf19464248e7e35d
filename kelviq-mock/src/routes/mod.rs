//! The two routers (API and edge) and the middleware every route shares: the journal,
//! fault injection, bearer authentication and the JSON content type.
//!
//! Order of checks, as in Django REST Framework: unknown path → 404; injected fault;
//! missing or wrong token → 401; wrong method → 405; body not JSON → 415; unknown object
//! named in the path → 404; invalid fields (including unknown objects named in the body)
//! → 400.

mod billing;
mod checkout;
mod control;
mod customers;
mod entitlements;
mod license;
mod portal;
mod reporting;
mod subscriptions;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::faults::Fault;
use crate::journal::{Arrival, Outcome};
use crate::route::{ApiVersion, Base, Route};
use crate::server::{Shared, lock};
use crate::wire::{ApiError, detail_body};

/// The shared state handlers receive.
pub(crate) type AppState = Arc<Shared>;

/// Response extension: close the connection instead of sending this response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// Request extension: the journal entry of this request.
#[derive(Debug, Clone, Copy)]
struct JournalSeq(u64);

/// The largest request body the mock reads.
const MAX_BODY: usize = 1024 * 1024;

/// The router of one listener: the routes of `base`, 404 for everything else.
pub(crate) fn router(shared: AppState, base: Base) -> Router {
    let mut paths: Vec<(String, MethodRouter<AppState>)> = Vec::new();
    for route in Route::ALL.into_iter().filter(|route| route.base() == base) {
        // Each version gets its own path: `/api/v3/...` stays a 404.
        for version in ApiVersion::ALL {
            let template = route.versioned_path_template(version);
            let endpoint =
                endpoint(route).route_layer(from_fn_with_state((Arc::clone(&shared), route), gate));
            match paths.iter_mut().find(|(path, _)| *path == template) {
                Some((_, existing)) => {
                    let merged = std::mem::take(existing).merge(endpoint);
                    *existing = merged;
                }
                None => paths.push((template, endpoint)),
            }
        }
    }
    let mut router = Router::new();
    for (path, endpoint) in paths {
        router = router.route(&path, endpoint);
    }
    if base == Base::Api {
        router = router
            .route(control::PLAN_PATH, post(control::set_plan))
            .route(control::USAGE_PATH, post(control::set_usage))
            .route(
                control::FAULTS_PATH,
                post(control::inject_fault).delete(control::clear_faults),
            );
    }
    let mut router = router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(from_fn_with_state((Arc::clone(&shared), base), journal));
    // Added after the journal layer, so not journaled: the console polls the state every
    // second and would otherwise fill the journal with itself.
    if base == Base::Api {
        router = router.route(control::STATE_PATH, get(control::state));
        if shared.console {
            router = router.merge(crate::console::routes());
        }
    }
    router.with_state(shared)
}

/// The handler of each route. The method here must be `route.method()`; the tests call
/// every route with its method.
fn endpoint(route: Route) -> MethodRouter<AppState> {
    match route {
        Route::CustomersList => get(customers::list),
        Route::CustomersCreate => post(customers::create),
        Route::CustomersRetrieve => get(customers::retrieve),
        Route::CustomersUpdate => patch(customers::update),
        Route::CustomersArchive => delete(customers::archive),
        Route::CheckoutCreateSession => post(checkout::create_session),
        Route::Entitlements => get(entitlements::get),
        Route::ReportUsage => post(reporting::report_usage),
        Route::ReportEvent => post(reporting::report_event),
        Route::SubscriptionsList => get(subscriptions::list),
        Route::SubscriptionsRetrieve => get(subscriptions::retrieve),
        Route::SubscriptionsCreate => post(subscriptions::create),
        Route::SubscriptionsCancel => post(subscriptions::cancel),
        Route::SubscriptionsUpdate => post(subscriptions::update),
        Route::SubscriptionsPreviewUpdate => post(subscriptions::preview_update),
        Route::PortalCreateSession => post(portal::create_session),
        Route::LicenseActivate => post(license::activate),
        Route::LicenseDeactivate => post(license::deactivate),
        Route::LicenseValidate => post(license::validate),
        Route::ChargesCreate => post(billing::create_charge),
        Route::RefundsList => get(billing::list_refunds),
        Route::RefundsCreate => post(billing::create_refund),
        Route::RefundsRetrieve => get(billing::retrieve_refund),
        Route::TransactionsList => get(billing::list_transactions),
        Route::PaymentMethodsList => get(billing::list_payment_methods),
    }
}

/// Outermost layer of each listener: records the request before anything else happens and
/// its outcome after.
async fn journal(
    State((shared, base)): State<(AppState, Base)>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let (body, too_large) = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => (bytes, false),
        Err(_) => (Bytes::new(), true),
    };
    let seq = lock(&shared.journal).record(Arrival {
        base,
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let response = if too_large {
        detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
    } else {
        let mut request = Request::from_parts(parts, Body::from(body));
        request.extensions_mut().insert(JournalSeq(seq));
        next.run(request).await
    };
    let outcome = if response.extensions().get::<DropConnection>().is_some() {
        Outcome::Dropped
    } else {
        Outcome::Responded(response.status().as_u16())
    };
    lock(&shared.journal).set_outcome(seq, outcome);
    response
}

/// Layer of each matched route: faults, then authentication and content type.
async fn gate(
    State((shared, route)): State<(AppState, Route)>,
    request: Request,
    next: Next,
) -> Response {
    let (latency, fault) = {
        let mut plan = lock(&shared.faults);
        (plan.latency(route), plan.next_fault(route))
    };
    let _busy = shared.in_flight.enter(route, latency);
    if let Some(JournalSeq(seq)) = request.extensions().get::<JournalSeq>().copied() {
        lock(&shared.journal).set_route(seq, route, fault.clone());
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match &fault {
        Some(Fault::Status { status, body }) => return fault_response(*status, body.clone()),
        Some(Fault::RateLimited { retry_after_secs }) => {
            let mut response = detail(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Request was throttled. Expected available in {retry_after_secs} seconds."
                ),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            return response;
        }
        Some(Fault::DropConnection) => return dropped(),
        Some(Fault::Delay(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::ApplyThenDelay(_) | Fault::ApplyThenDrop) | None => {}
    }
    if let Some(refused) = authorize(&shared, request.headers()) {
        return refused;
    }
    let has_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok())
        .is_some_and(|length| length != "0");
    if let Some(refused) = require_json(request.headers(), has_body) {
        return refused;
    }
    let response = next.run(request).await;
    match fault {
        Some(Fault::ApplyThenDelay(delay)) => {
            tokio::time::sleep(delay).await;
            response
        }
        Some(Fault::ApplyThenDrop) => dropped(),
        _ => response,
    }
}

/// Checks `Authorization: Bearer <token>`: the 401 to answer with when it is wrong.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Some(unauthorized(
            "Authentication credentials were not provided.",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "));
    match token {
        Some(token) if token == shared.token => None,
        _ => Some(unauthorized("Invalid token.")),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = detail(StatusCode::UNAUTHORIZED, message);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// A request with a body must say it is JSON, as DRF's `JSONParser` does: the 415 to
/// answer with when it does not.
fn require_json(headers: &HeaderMap, has_body: bool) -> Option<Response> {
    if !has_body {
        return None;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (essence != "application/json").then(|| {
        detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Unsupported media type \"{content_type}\" in request."),
        )
    })
}

/// DRF's 405, after authentication as DRF checks it.
async fn method_not_allowed(
    State(shared): State<AppState>,
    method: http::Method,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = authorize(&shared, &headers) {
        return refused;
    }
    detail(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method \"{method}\" not allowed."),
    )
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

/// A `{"detail": ...}` answer.
fn detail(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(detail_body(message))).into_response()
}

fn fault_response(status: u16, body: Option<serde_json::Value>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body =
        body.unwrap_or_else(|| detail_body(status.canonical_reason().unwrap_or("Injected fault.")));
    (status, axum::Json(body)).into_response()
}

fn dropped() -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(DropConnection);
    response
}

/// A path parameter, percent-decoded. A segment that is not UTF-8 once decoded names no
/// object: 404, as for an unknown id.
#[derive(Debug)]
pub(crate) struct PathParam(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParam(value))
            .map_err(|_| ApiError::not_found())
    }
}

/// The absolute URL of a request to the API listener, for DRF's `next`/`previous` links.
pub(crate) fn absolute_url(shared: &Shared, uri: &http::Uri) -> String {
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    format!("{}{}", lock(&shared.state).api_url, path_and_query)
}
