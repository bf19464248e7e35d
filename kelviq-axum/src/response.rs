//! The one conversion from the gate's responses to axum's.
//!
//! Every error response this crate writes — extractor rejections, webhook refusals — is
//! made by [`kelviq_client::gate`] as an `http::Response<Bytes>` ([`Denial::to_response`],
//! the missing layer's `500`) and converted here: status, headers and body unchanged, so that axum
//! answers byte for byte as the tower layer and actix-web do.
//!
//! [`Denial::to_response`]: kelviq_client::gate::Denial::to_response

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;

/// `response` as an axum response.
pub(crate) fn into_axum(response: http::Response<Bytes>) -> Response {
    response.map(Body::from)
}
