//! The responses the layer writes itself.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use kelviq_client::Error;
use kelviq_client::gate::Denial;

use crate::body::ResponseBody;
use crate::layer::DenialHandler;

/// The answer to a denial: the caller's handler's, or the denial's JSON.
pub(crate) fn denied<B>(
    denial: &Denial,
    handler: Option<&DenialHandler>,
) -> Response<ResponseBody<B>> {
    tracing::debug!(
        code = denial.code(),
        feature = denial.feature().unwrap_or_default(),
        status = denial.status(),
        "request denied by kelviq"
    );
    if let Some(handler) = handler {
        return handler(denial).map(ResponseBody::full);
    }
    json(denial.status_code(), denial.body_bytes())
}

/// The answer of a layer whose configuration is invalid: a generic message (the detail
/// is logged, not sent to the client).
pub(crate) fn misconfigured<B>(error: &Arc<Error>) -> Response<ResponseBody<B>> {
    tracing::error!(%error, "kelviq layer misconfigured");
    let body = kelviq_client::gate::error_body(
        "kelviq_misconfigured",
        "the service's Kelviq integration is misconfigured",
    );
    json(StatusCode::INTERNAL_SERVER_ERROR, Bytes::from(body))
}

fn json<B>(status: StatusCode, body: Bytes) -> Response<ResponseBody<B>> {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
