//! Error answers in Django REST Framework's shapes: `{"field": ["message"]}` for a 400 with
//! field errors, `{"detail": "..."}` for everything else.

use std::collections::BTreeMap;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

/// Field name → messages, as DRF's serializer errors.
pub(crate) type FieldErrors = BTreeMap<String, Vec<String>>;

/// An error answer of the mock.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400 with per-field messages.
    Fields(FieldErrors),
    /// Any status with a `{"detail": ...}` body.
    Detail { status: StatusCode, detail: String },
}

impl ApiError {
    /// A 400 naming one field.
    pub(crate) fn field(name: &str, message: impl Into<String>) -> Self {
        ApiError::Fields(BTreeMap::from([(name.to_owned(), vec![message.into()])]))
    }

    /// A 400 with a `detail` message.
    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::Detail {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }

    /// DRF's 404 for an unknown object or path.
    pub(crate) fn not_found() -> Self {
        ApiError::Detail {
            status: StatusCode::NOT_FOUND,
            detail: "Not found.".to_owned(),
        }
    }
}

/// The `{"detail": ...}` body DRF gives for `status`.
pub(crate) fn detail_body(detail: &str) -> Value {
    json!({ "detail": detail })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Fields(errors) => (StatusCode::BAD_REQUEST, Json(errors)).into_response(),
            ApiError::Detail { status, detail } => {
                (status, Json(detail_body(&detail))).into_response()
            }
        }
    }
}
