//! The one conversion from the gate's responses (`http` 1) to actix-web's (`http` 0.2).
//!
//! Every response this crate writes — denials, extractor rejections, webhook errors — is
//! made by [`kelviq_client::gate`] as an `http::Response<Bytes>` and converted here: status,
//! every header (repeated ones included) and body, so that actix-web answers byte for byte
//! as the tower and axum integrations do.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::Bytes;

/// actix-web's status for one of the gate's.
///
/// Both crates accept the same range (`100..=999`), so the fallback to `500` is never
/// taken.
pub(crate) fn status(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `response` as an actix-web response: its status, every header in order, its body.
///
/// Names and values valid for `http` 1 are valid for `http` 0.2 (same grammar); one that
/// were not would be left out rather than fail the response.
pub(crate) fn to_actix(response: http::Response<Bytes>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let mut converted = HttpResponse::with_body(status(parts.status), body).map_into_boxed_body();
    let headers = converted.headers_mut();
    for (name, value) in &parts.headers {
        let (Ok(name), Ok(mut converted_value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) else {
            tracing::warn!(header = %name, "kelviq response header not representable in actix-web: left out");
            continue;
        };
        converted_value.set_sensitive(value.is_sensitive());
        headers.append(name, converted_value);
    }
    converted
}

/// Sets the gate's `fields` (the quota headers) on an actix-web response's headers,
/// replacing any of the same name; a field not representable is left out, as in
/// [`to_actix`].
pub(crate) fn insert_headers(
    headers: &mut actix_web::http::header::HeaderMap,
    fields: [(http::HeaderName, http::HeaderValue); 2],
) {
    for (name, value) in fields {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.insert(name, value);
        }
    }
}
