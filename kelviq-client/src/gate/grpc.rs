//! A [`Denial`] in gRPC's terms: the one table from [`DenialReason`] to a gRPC status code,
//! and the trailers-only response a gRPC client reads as that status.
//!
//! gRPC carries a call's outcome in `grpc-status` / `grpc-message`, not in the HTTP status
//! (always `200`): a client given an HTTP `401`/`403`/`503` with a JSON body sees a broken
//! transport. Adapters answer a gRPC request (`content-type: application/grpc…`) with
//! [`Gate::deny_grpc`] instead of [`Gate::deny`]; the denial, decided once by the gate, is
//! the same.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::denial::{Denial, DenialReason};
use super::engine::Gate;
use super::grpc_details;

/// The bytes the gRPC spec percent-encodes in `grpc-message`: everything outside
/// `0x20..=0x7E`, and `%` itself (non-ASCII bytes are always encoded).
const GRPC_MESSAGE: &AsciiSet = &CONTROLS.add(b'%');

/// The metadata key carrying the denial's snake_case [code](Denial::code).
pub const GRPC_ERROR_KEY: &str = "kelviq-error";
/// The metadata key carrying the feature the denial is about, when there is one.
pub const GRPC_FEATURE_KEY: &str = "kelviq-feature";

impl DenialReason {
    /// The gRPC status code a denial for this reason answers a gRPC call with:
    ///
    /// | reason | code |
    /// |---|---|
    /// | [`MissingCustomer`](DenialReason::MissingCustomer) | `UNAUTHENTICATED` (16) |
    /// | [`InvalidCustomer`](DenialReason::InvalidCustomer) | `INVALID_ARGUMENT` (3) |
    /// | [`NoAccess`](DenialReason::NoAccess), [`UnknownFeature`](DenialReason::UnknownFeature), [`UnknownCustomer`](DenialReason::UnknownCustomer) | `PERMISSION_DENIED` (7) |
    /// | [`LimitReached`](DenialReason::LimitReached) | `RESOURCE_EXHAUSTED` (8) |
    /// | [`Unavailable`](DenialReason::Unavailable) | `UNAVAILABLE` (14) |
    ///
    /// A gate's [`limit_reached_status`](super::GateBuilder::limit_reached_status) changes
    /// the HTTP status only: on gRPC a reached limit is always `RESOURCE_EXHAUSTED`.
    pub fn grpc_code(self) -> u8 {
        match self {
            DenialReason::MissingCustomer => 16,
            DenialReason::InvalidCustomer => 3,
            DenialReason::NoAccess
            | DenialReason::UnknownFeature
            | DenialReason::UnknownCustomer => 7,
            DenialReason::LimitReached => 8,
            DenialReason::Unavailable => 14,
        }
    }
}

impl Denial {
    /// The gRPC status code of the denial's [reason](DenialReason::grpc_code).
    pub fn grpc_code(&self) -> u8 {
        self.reason().grpc_code()
    }

    /// The answer to the denial for a gRPC client: a trailers-only response (HTTP `200`,
    /// no body) whose headers are
    ///
    /// - `content-type: application/grpc`,
    /// - `grpc-status`: [`Denial::grpc_code`],
    /// - `grpc-message`: the [message](Denial::message), percent-encoded as the gRPC spec
    ///   says (tonic's `Status::message()` gives it back decoded),
    /// - `kelviq-error`: the snake_case [code](Denial::code),
    /// - `kelviq-feature`: the [feature](Denial::feature), when there is one,
    /// - `retry-after`: in seconds, when [known](Denial::retry_after), as on HTTP,
    /// - `grpc-status-details-bin`: the richer error model, a `google.rpc.Status` (code
    ///   and message as above) whose details are a `google.rpc.ErrorInfo` — `reason` the
    ///   code in upper snake case (`USAGE_LIMIT_REACHED`), `domain`
    ///   [`GRPC_ERROR_DOMAIN`](super::GRPC_ERROR_DOMAIN), `metadata` with `code` (the
    ///   snake_case code), `feature`, and for a reached limit `limit`, `used`,
    ///   `remaining` and `resetAt` — and for a reached limit a `google.rpc.QuotaFailure`
    ///   (one violation, subject `feature:<id>`). tonic's `Status::details()` gives the
    ///   bytes; `tonic-types`' `StatusExt::get_error_details` decodes them. Written
    ///   without any protobuf dependency: the gRPC mode needs no cargo feature.
    ///
    /// ```
    /// use kelviq_client::gate::Denial;
    ///
    /// let response = Denial::limit_reached("api-calls").to_grpc_response();
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(response.headers()["content-type"], "application/grpc");
    /// assert_eq!(response.headers()["grpc-status"], "8");
    /// assert_eq!(
    ///     response.headers()["grpc-message"],
    ///     "you have reached the usage limit of api-calls"
    /// );
    /// assert_eq!(response.headers()["kelviq-error"], "usage_limit_reached");
    /// assert_eq!(response.headers()["kelviq-feature"], "api-calls");
    /// assert!(response.body().is_empty());
    /// ```
    pub fn to_grpc_response(&self) -> http::Response<Bytes> {
        let mut response = http::Response::new(Bytes::new());
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(
            "grpc-status",
            HeaderValue::from(u16::from(self.grpc_code())),
        );
        let message = utf8_percent_encode(self.message(), GRPC_MESSAGE).to_string();
        // Percent-encoded, the message is visible ASCII: the conversion cannot fail.
        if let Ok(message) = HeaderValue::try_from(message) {
            headers.insert("grpc-message", message);
        }
        headers.insert(GRPC_ERROR_KEY, HeaderValue::from_static(self.code()));
        if let Some(feature) = self.feature() {
            // A feature id that is no valid header value is left out, never mangled.
            if let Ok(feature) = HeaderValue::try_from(feature) {
                headers.insert(GRPC_FEATURE_KEY, feature);
            }
        }
        if let Some(seconds) = self.retry_after_seconds() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // Base64 is visible ASCII: the conversion cannot fail.
        if let Ok(details) = HeaderValue::try_from(grpc_details::status_details(self)) {
            headers.insert(GRPC_STATUS_DETAILS, details);
        }
        response
    }
}

/// The metadata key of the `google.rpc.Status` a denial carries.
const GRPC_STATUS_DETAILS: &str = "grpc-status-details-bin";

impl Gate {
    /// The answer to a denial for a gRPC call: [`Denial::to_grpc_response`], logged once
    /// at `debug`. The gate's [denial handler](super::GateBuilder::on_denied) writes HTTP
    /// answers and is not used: a gRPC client can only read a gRPC status.
    pub fn deny_grpc(&self, denial: &Denial) -> http::Response<Bytes> {
        tracing::debug!(
            code = denial.code(),
            feature = denial.feature().unwrap_or_default(),
            grpc_status = denial.grpc_code(),
            "grpc request denied by kelviq"
        );
        denial.to_grpc_response()
    }
}

/// Whether a `content-type` is gRPC's: `application/grpc`, alone or followed by `+` (a
/// codec, `application/grpc+proto`) or `;` (parameters). gRPC-Web
/// (`application/grpc-web…`) is not: its trailers travel in the body, so put the Kelviq
/// layer inside the gRPC-Web translation (tonic-web), where calls are plain gRPC.
///
/// ```
/// use kelviq_client::gate::is_grpc_content_type;
///
/// assert!(is_grpc_content_type(b"application/grpc"));
/// assert!(is_grpc_content_type(b"application/grpc+proto"));
/// assert!(!is_grpc_content_type(b"application/grpc-web"));
/// assert!(!is_grpc_content_type(b"application/json"));
/// ```
pub fn is_grpc_content_type(content_type: &[u8]) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    match content_type.get(..GRPC.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(GRPC) => {
            matches!(content_type.get(GRPC.len()), None | Some(b'+' | b';'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_message_is_percent_encoded_per_the_spec() {
        let denial = Denial::no_access("reports").with_message("100% \"ok\" é\n");
        let response = denial.to_grpc_response();
        assert_eq!(
            response.headers()["grpc-message"],
            "100%25 \"ok\" %C3%A9%0A"
        );
        assert_eq!(response.headers()["grpc-status"], "7");
    }

    #[test]
    fn every_reason_has_its_grpc_code() {
        assert_eq!(Denial::missing_customer().grpc_code(), 16);
        assert_eq!(Denial::invalid_customer().grpc_code(), 3);
        assert_eq!(Denial::no_access("f").grpc_code(), 7);
        assert_eq!(Denial::unknown_feature("f").grpc_code(), 7);
        assert_eq!(Denial::unknown_customer().grpc_code(), 7);
        assert_eq!(Denial::limit_reached("f").grpc_code(), 8);
        assert_eq!(Denial::no_snapshot().grpc_code(), 14);
        let missing = Denial::missing_customer().to_grpc_response();
        assert!(!missing.headers().contains_key(GRPC_FEATURE_KEY));
        assert_eq!(missing.headers()[GRPC_ERROR_KEY], "missing_customer");
    }
}
