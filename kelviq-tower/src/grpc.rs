//! gRPC calls through the layer: denials as gRPC statuses, metering on `grpc-status: 0`.
//!
//! # Why a mode of the layer, not a `kelviq-tonic` crate
//!
//! A gRPC call is an HTTP/2 request with `content-type: application/grpc…`, and tonic
//! servers are tower services over `http::Request`: everything the layer needs is in the
//! `http` types it already handles. So [`KelviqLayer`](crate::KelviqLayer) recognises a
//! gRPC request by its content type and answers it in gRPC's terms, with no dependency on
//! tonic (nor on its release cycle), no second layer type to learn, and one layer in front
//! of a server that mixes REST routes and gRPC services (tonic's `Routes` are an axum
//! router). Requests of any other content type are handled exactly as before.
//!
//! # What changes for a gRPC request
//!
//! - **Denials** are trailers-only responses ([`Gate::deny_grpc`]): HTTP `200`,
//!   `grpc-status` `UNAUTHENTICATED` (no customer), `PERMISSION_DENIED` (not entitled,
//!   unknown customer), `RESOURCE_EXHAUSTED` (limit reached), `UNAVAILABLE` (Kelviq down,
//!   strict policy), a percent-encoded `grpc-message`, and `kelviq-error` /
//!   `kelviq-feature` metadata. The reason-to-code table is
//!   [`DenialReason::grpc_code`](kelviq_client::gate::DenialReason::grpc_code), next to
//!   the HTTP one: the decision is the gate's, as for HTTP.
//! - **Metering** reads the call's outcome, never the HTTP status (`200` even for a failed
//!   call): the `grpc-status` of the response headers for a trailers-only response (a
//!   handler's error), else the `grpc-status` of the body's trailers, when they arrive —
//!   so a server-streaming call is metered once, after its last message. Only `0` (`OK`)
//!   is metered; an error status, a body that fails or ends without trailers, or a client
//!   that goes away first meters nothing. An `OK` call is handed to
//!   [`Gate::finish`](kelviq_client::gate::Gate::finish) with the status `200`, so a gate
//!   whose [success statuses](kelviq_client::gate::GateBuilder::success_statuses) include
//!   `200` (the default) meters it. The amount is the handler's
//!   [`UsageAmount`] response extension (tonic's
//!   `Response::extensions_mut`), else
//!   [`RequestContext::set_usage_amount`](crate::RequestContext::set_usage_amount) (for a
//!   stream, callable until its last message), else the gate's.
//!
//! # The customer id
//!
//! gRPC metadata are HTTP/2 headers. The recommended source is still a request extension:
//! put a [`CustomerId`] in the request extensions from your own
//! authentication layer in front of the Kelviq layer (with tonic, an
//! `InterceptorLayer`: `request.extensions_mut().insert(CustomerId::new(..))`; an
//! interceptor attached to the generated server runs after the layer, too late).
//! [`FromHeader`] reads a metadata key (`x-customer-id`) — **only
//! behind a trusted proxy that sets it itself and strips it from client calls**, or any
//! client can claim to be any customer.
//!
//! gRPC-Web is not gRPC here (its trailers travel in the body): put the layer inside the
//! gRPC-Web translation (tonic-web), where calls are plain gRPC.

use http::{HeaderMap, Request, Response, StatusCode, header};
use kelviq_client::gate::{Denial, Gate, UsageAmount, is_grpc_content_type};

use crate::body::ResponseBody;
use crate::future::Metering;

#[cfg(doc)]
use kelviq_client::gate::{CustomerId, DenialReason, FromHeader};

/// Whether `request` is a gRPC call (`content-type: application/grpc`, `+codec` or `;…`).
pub(crate) fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| is_grpc_content_type(value.as_bytes()))
}

/// The answer to `denial`: a gRPC status for a gRPC call, the gate's HTTP answer otherwise.
pub(crate) fn deny<B>(gate: &Gate, denial: &Denial, grpc: bool) -> Response<ResponseBody<B>> {
    let response = if grpc {
        gate.deny_grpc(denial)
    } else {
        gate.deny(denial)
    };
    response.map(ResponseBody::full)
}

/// The response of a gRPC call let through: metered now if its outcome is in the headers
/// (trailers-only), else once its body's trailers arrive.
pub(crate) fn response<B>(
    response: Response<B>,
    metering: Option<Metering>,
) -> Response<ResponseBody<B>> {
    let Some(metering) = metering else {
        return response.map(ResponseBody::inner);
    };
    // Not a gRPC answer (a proxy's error, say): not a call that ended `OK`.
    if response.status() != StatusCode::OK {
        return response.map(ResponseBody::inner);
    }
    let amount = response.extensions().get::<UsageAmount>().copied();
    let metering = GrpcMetering { metering, amount };
    if response.headers().contains_key(GRPC_STATUS) {
        // Trailers-only: the outcome is already known, and the body is empty.
        metering.finish(response.headers());
        return response.map(ResponseBody::inner);
    }
    response.map(|body| ResponseBody::grpc(body, metering))
}

/// The header (or trailer) holding a gRPC call's status code.
const GRPC_STATUS: &str = "grpc-status";

/// What to meter when a gRPC call ends: the request's metering, and the amount the
/// handler set on the response, if any.
#[derive(Debug)]
pub(crate) struct GrpcMetering {
    metering: Metering,
    amount: Option<UsageAmount>,
}

impl GrpcMetering {
    /// Meters the call if `trailers` (or a trailers-only response's headers) say
    /// `grpc-status: 0`; any other status, or none, meters nothing.
    pub(crate) fn finish(self, trailers: &HeaderMap) {
        if trailers
            .get(GRPC_STATUS)
            .is_some_and(|status| status.as_bytes() == b"0")
        {
            // `200`: the HTTP status of every gRPC response; the gate counts it a success
            // unless its success statuses were narrowed to exclude it (documented).
            self.metering.finish_with(200, self.amount);
        }
    }
}
