//! `/license/`: activate, deactivate and validate license keys (snake_case bodies).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use super::subscriptions::{license_summary, product_json, subscription_json};
use crate::seed::Plan;
use crate::server::lock;
use crate::state::{Activation, License, State as Db};
use crate::wire::{ApiError, BodyReader, format_datetime};

const KEY_NOT_FOUND: &str = "License key not found.";
const INSTANCE_NOT_FOUND: &str = "Instance not found.";
const DISABLED: &str = "License is disabled.";
const EXPIRED: &str = "License has expired.";

fn not_found(detail: &str) -> ApiError {
    ApiError::Detail {
        status: StatusCode::NOT_FOUND,
        detail: detail.to_owned(),
    }
}

/// The license details object (`kelviq-api.md` section 4.7): the summary the subscription
/// object lists, plus customer, plan and subscription.
fn license_json(db: &Db, license: &License) -> Value {
    let mut details = license_summary(db, license);
    let customer = db.any_customer(&license.customer_id).map(|customer| {
        json!({
            "customerId": customer.customer_id,
            "name": customer.name,
            "email": customer.email,
        })
    });
    let plan = db.plan(&license.plan).map(|plan| plan_json(db, plan));
    let subscription = db
        .subscription(&license.subscription_id)
        .map(|sub| subscription_json(db, sub));
    details.insert("customer".to_owned(), json!(customer));
    details.insert("plan".to_owned(), json!(plan));
    details.insert("subscription".to_owned(), json!(subscription));
    Value::Object(details)
}

/// A plan with its product. Plans have no history in the mock: version 1, the latest,
/// created when the mock's catalogue was (its first customer or subscription).
fn plan_json(db: &Db, plan: &Plan) -> Value {
    let created_on = db
        .customers
        .iter()
        .map(|customer| customer.created_on)
        .chain(db.subscriptions.iter().map(|sub| sub.created_on))
        .min()
        .unwrap_or_else(|| db.now());
    let mut product = product_json(plan);
    product.insert("taxCode".to_owned(), Value::Null);
    product.insert("createdOn".to_owned(), json!(format_datetime(created_on)));
    product.insert("modifiedOn".to_owned(), json!(format_datetime(created_on)));
    json!({
        "identifier": plan.identifier,
        "name": plan.display_name(),
        "description": null,
        "product": product,
        "version": 1,
        "isLatest": true,
    })
}

/// Activates a license on a new instance: 201 with `instanceId`, `activatedAt`,
/// `expiresOn` and the license. Unknown key → 404; a key of another customer, a disabled
/// or expired license, or one at its activation limit → 400.
pub(super) async fn activate(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let key = body.req_str("license_key");
    let customer_id = body.opt_str("customer_id");
    let instance_name = body.opt_str("instance_name");
    let metadata = body.opt_object("metadata");
    body.finish()?;
    let mut db = lock(&shared.state);
    let license = db.license(&key).ok_or_else(|| not_found(KEY_NOT_FOUND))?;
    if customer_id.is_some_and(|customer_id| customer_id != license.customer_id) {
        return Err(ApiError::field(
            "customer_id",
            "This license key belongs to another customer.",
        ));
    }
    if !license.enabled {
        return Err(ApiError::bad_request(DISABLED));
    }
    if db.license_expired(license) {
        return Err(ApiError::bad_request(EXPIRED));
    }
    if license.activation_usage() >= license.activation_limit {
        return Err(ApiError::bad_request("Activation limit reached."));
    }
    let instance_id = db.new_uuid();
    let now = db.now();
    if let Some(license) = db.license_mut(&key) {
        license.activations.push(Activation {
            instance_id: instance_id.clone(),
            instance_name,
            metadata,
            activated_at: now,
            deactivated_at: None,
        });
    }
    let license = db.license(&key).ok_or_else(|| not_found(KEY_NOT_FOUND))?;
    let response = json!({
        "instanceId": instance_id,
        "activatedAt": format_datetime(now),
        "expiresOn": db.license_expires_on(license).map(format_datetime),
        "license": license_json(&db, license),
    });
    Ok((StatusCode::CREATED, Json(response)))
}

/// Deactivates an active instance, freeing its slot: 200 with `message` and
/// `deactivatedAt`. Unknown key, or an instance that is unknown or already deactivated
/// → 404. `instance_id` may be blank (it then names no instance).
pub(super) async fn deactivate(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let key = body.req_str("license_key");
    let instance_id = body.req_str_blank("instance_id");
    body.finish()?;
    let mut db = lock(&shared.state);
    let now = db.now();
    let license = db
        .license_mut(&key)
        .ok_or_else(|| not_found(KEY_NOT_FOUND))?;
    let activation = license
        .activations
        .iter_mut()
        .find(|activation| {
            activation.instance_id == instance_id && activation.deactivated_at.is_none()
        })
        .ok_or_else(|| not_found(INSTANCE_NOT_FOUND))?;
    activation.deactivated_at = Some(now);
    Ok(Json(json!({
        "message": "License deactivated successfully.",
        "deactivatedAt": format_datetime(now),
    })))
}

/// Checks a key, and an instance when given: always 200 with `valid`, `code`, `detail`,
/// the instance's `metadata` and the license (`null` for an unknown key).
pub(super) async fn validate(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let key = body.req_str("license_key");
    let instance_id = body.opt_str("instance_id");
    body.finish()?;
    let db = lock(&shared.state);
    Ok(Json(verdict(&db, &key, instance_id.as_deref())))
}

/// The answer of `validate`. Codes, first match wins: `NOT_FOUND`, `DISABLED`, `EXPIRED`,
/// `INSTANCE_NOT_FOUND` (an instance given that is not an active activation of the key),
/// `VALID`.
fn verdict(db: &Db, key: &str, instance_id: Option<&str>) -> Value {
    let Some(license) = db.license(key) else {
        return json!({
            "valid": false,
            "code": "NOT_FOUND",
            "detail": KEY_NOT_FOUND,
            "metadata": null,
            "license": null,
        });
    };
    let instance = instance_id.map(|id| license.active_instance(id));
    let (valid, code, detail) = if !license.enabled {
        (false, "DISABLED", DISABLED)
    } else if db.license_expired(license) {
        (false, "EXPIRED", EXPIRED)
    } else if matches!(instance, Some(None)) {
        (false, "INSTANCE_NOT_FOUND", INSTANCE_NOT_FOUND)
    } else {
        (true, "VALID", "License is valid.")
    };
    let metadata = instance
        .flatten()
        .and_then(|activation| activation.metadata.clone());
    json!({
        "valid": valid,
        "code": code,
        "detail": detail,
        "metadata": metadata,
        "license": license_json(db, license),
    })
}
