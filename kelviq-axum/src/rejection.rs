//! [`KelviqRejection`]: why a Kelviq extractor refused, answered as JSON.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use kelviq_client::gate::{Denial, error_body};

/// The layer (or an authentication layer inserting a customer id) is missing in front of
/// a route that uses a Kelviq extractor: `500`, naming what to add.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct MissingKelviqLayer;

impl MissingKelviqLayer {
    const MESSAGE: &'static str = "no Kelviq context in the request: add kelviq_tower::KelviqLayer \
        (or an authentication layer inserting kelviq_tower::CustomerId, with kelviq_client::Kelviq in \
        the router state) in front of this route, as a layer that runs before the handler";
}

/// The rejection of every Kelviq extractor.
#[derive(Debug)]
#[non_exhaustive]
pub enum KelviqRejection {
    /// No Kelviq layer ran for this route: `500`.
    MissingLayer(MissingKelviqLayer),
    /// The gate said no (no customer `401`, not entitled `403`, limit reached, Kelviq
    /// unavailable `503`).
    Denied(Denial),
    /// The extractor needs the usage meter, which the layer was not given: `500`.
    MissingMeter,
}

impl KelviqRejection {
    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            KelviqRejection::Denied(denial) => denial.status_code(),
            KelviqRejection::MissingLayer(_) | KelviqRejection::MissingMeter => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The snake_case code of the answer's `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            KelviqRejection::MissingLayer(_) => "kelviq_layer_missing",
            KelviqRejection::Denied(denial) => denial.code(),
            KelviqRejection::MissingMeter => "kelviq_meter_missing",
        }
    }

    /// The denial, when the gate said no.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            KelviqRejection::Denied(denial) => Some(denial),
            _ => None,
        }
    }

    fn body(&self) -> String {
        match self {
            KelviqRejection::Denied(denial) => denial.to_json_string(),
            KelviqRejection::MissingLayer(_) => {
                error_body(self.code(), MissingKelviqLayer::MESSAGE)
            }
            KelviqRejection::MissingMeter => error_body(
                self.code(),
                "this extractor records usage, but the Kelviq layer has no usage meter \
                 (KelviqLayer::usage_meter)",
            ),
        }
    }
}

impl std::fmt::Display for KelviqRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KelviqRejection::Denied(denial) => write!(f, "{denial}"),
            KelviqRejection::MissingLayer(_) => f.write_str(MissingKelviqLayer::MESSAGE),
            KelviqRejection::MissingMeter => f.write_str("the Kelviq layer has no usage meter"),
        }
    }
}

impl std::error::Error for KelviqRejection {}

impl From<Denial> for KelviqRejection {
    fn from(denial: Denial) -> Self {
        KelviqRejection::Denied(denial)
    }
}

impl IntoResponse for KelviqRejection {
    fn into_response(self) -> Response {
        tracing::debug!(
            code = self.code(),
            status = self.status().as_u16(),
            "rejecting request"
        );
        json_response(self.status(), self.body())
    }
}

/// A JSON answer with `status`: the shape of every error this crate writes.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = body.into_response();
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
