//! `POST /checkout/`: a checkout session for a plan, completed later through
//! [`MockServer::complete_checkout`](crate::MockServer::complete_checkout).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use super::subscriptions::{accept_ignored, read_features, read_plan, read_url};
use crate::server::lock;
use crate::state::{CHARGE_PERIODS, CheckoutSession};
use crate::wire::{ApiError, BodyReader};

/// Creates a checkout session (camelCase body, `kelviq-api.md` section 4.2): 201 with
/// `checkoutSessionId` and `checkoutUrl`. The customer need not exist yet (completing the
/// checkout creates it), but an archived one is refused. `customAmount` needs
/// `currencyCode` and `taxBehavior`, as the service documents.
pub(super) async fn create_session(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let mut db = lock(&shared.state);
    let plan = read_plan(&mut body, &db, "planIdentifier");
    let charge_period = body.req_choice("chargePeriod", &CHARGE_PERIODS);
    let customer_id = body.opt_str("customerId");
    if let Some(customer_id) = &customer_id
        && db.customer(customer_id).is_none()
        && db.customer_id_taken(customer_id)
    {
        body.error("customerId", "This customer is archived.");
    }
    let features = read_features(&mut body, &db, "features", &plan);
    let success_url = read_url(&mut body, "successUrl", true).unwrap_or_default();
    let trial_period = body.opt_int_min("trialPeriod", 1);
    let currency_code = body.opt_str("currencyCode");
    if let Some(code) = &currency_code
        && !(code.len() == 3 && code.bytes().all(|byte| byte.is_ascii_alphabetic()))
    {
        body.error(
            "currencyCode",
            "Enter a three-letter ISO 4217 currency code.",
        );
    }
    let custom_amount = body.opt_positive_number("customAmount");
    let tax_behavior = body.opt_choice("taxBehavior", &["INCLUSIVE", "EXCLUSIVE"]);
    if custom_amount.is_some() {
        for (field, value) in [
            ("currencyCode", currency_code.is_some()),
            ("taxBehavior", tax_behavior.is_some()),
        ] {
            if !value && !body.has_error(field) {
                body.error(field, "This field is required when customAmount is set.");
            }
        }
    }
    body.opt_bool("discountsEnabled");
    body.opt_bool("lockEmail");
    let metadata = body.opt_object("metadata");
    accept_ignored(
        &mut body,
        &[
            "offeringId",
            "pricingTableId",
            "ipAddress",
            "ruleId",
            "defaultBillingCountry",
        ],
    );
    body.finish()?;
    let id = db.new_uuid();
    let url = format!("{}/mock/checkout/{id}", db.api_url);
    let session = CheckoutSession {
        id,
        url,
        plan,
        charge_period,
        customer_id,
        success_url,
        trial_period,
        features: features.unwrap_or_default(),
        metadata,
        subscription_id: None,
    };
    let response = json!({"checkoutSessionId": session.id, "checkoutUrl": session.url});
    db.checkout_sessions.push(session);
    Ok((StatusCode::CREATED, Json(response)))
}
