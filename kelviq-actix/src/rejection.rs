//! Why an extractor refused: small structs named by cause — [`MissingKelviqLayer`],
//! [`KelviqUnavailable`], [`FeatureNotEntitled`] — and one enum per extractor that can
//! refuse for more than one ([`RequestSnapshotRejection`], [`EntitledRejection`]), as
//! actix-web's and axum's own extractors do.
//!
//! Each is a [`ResponseError`] answering the shared RFC 9457 problem details
//! (`{"type": ..., "title": ..., "status": ..., "detail": ..., "code": ..., "feature": ...}`,
//! `Content-Type: application/problem+json`): the responses are made by
//! [`kelviq_client::gate`] (the gate's denial handler if it has one, else the denial's
//! problem details) and only converted here, so actix-web refuses exactly as the
//! middleware, tower and axum do. Each rejection is logged once, at `debug`. Their
//! `status()` is the gate's `http` 1 status, as in kelviq-axum;
//! [`ResponseError::status_code`] is actix-web's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::response::{status, to_actix};

kelviq_client::__rejections! {
    layer: "the [`KelviqMiddleware`](crate::KelviqMiddleware)",
    fix: "wrap the route, its scope or the app with the middleware",
    advice: "wrap this route, its scope or the app with kelviq_actix::KelviqMiddleware",
    extract: "crate",
}

/// Answers each rejection with the gate's response, converted to actix-web's.
macro_rules! response_error {
    ($($name:ident),+ $(,)?) => {
        $(
            impl ResponseError for $name {
                fn status_code(&self) -> StatusCode {
                    status(self.status())
                }

                fn error_response(&self) -> HttpResponse {
                    to_actix(self.gate_response())
                }
            }
        )+
    };
}

response_error!(
    MissingKelviqLayer,
    FeatureNotEntitled,
    KelviqUnavailable,
    RequestSnapshotRejection,
    EntitledRejection,
);
