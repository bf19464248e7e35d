//! `grpc-status-details-bin`: a denial's `google.rpc.Status` with its `google.rpc.ErrorInfo`
//! and, for a reached limit, `google.rpc.QuotaFailure` — the richer error model gRPC
//! clients decode (tonic-types' `ErrorDetails`, Go's `status.Details()`, ...).
//!
//! The four messages are small and fixed, so they are written here, by hand, in protobuf's
//! wire format (no `prost` or generated code in the library; the tests decode them with
//! `tonic-types`):
//!
//! ```text
//! google.rpc.Status       { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
//! google.protobuf.Any     { string type_url = 1; bytes value = 2; }
//! google.rpc.ErrorInfo    { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
//! google.rpc.QuotaFailure { repeated Violation violations = 1; }
//!   Violation             { string subject = 1; string description = 2; }
//! ```

use std::fmt::Write as _;

use super::denial::Denial;

/// The `domain` of every `ErrorInfo` a gate sends.
pub const GRPC_ERROR_DOMAIN: &str = "kelviq-rs";

/// The `google.rpc.Status` of `denial`, encoded, then in base64 without padding (as gRPC
/// binary metadata is sent).
pub(super) fn status_details(denial: &Denial) -> String {
    base64(&status(denial))
}

/// The `google.rpc.Status` message of `denial`.
fn status(denial: &Denial) -> Vec<u8> {
    let mut status = Vec::new();
    varint_field(&mut status, 1, u64::from(denial.grpc_code()));
    bytes_field(&mut status, 2, denial.message().as_bytes());
    bytes_field(
        &mut status,
        3,
        &any(
            "type.googleapis.com/google.rpc.ErrorInfo",
            &error_info(denial),
        ),
    );
    if let Some(quota) = quota_failure(denial) {
        bytes_field(
            &mut status,
            3,
            &any("type.googleapis.com/google.rpc.QuotaFailure", &quota),
        );
    }
    status
}

/// `ErrorInfo`: the reason (the [code](Denial::code) in upper snake case, as `ErrorInfo`
/// asks: `USAGE_LIMIT_REACHED`), the domain, and metadata: `code` (the snake_case code
/// itself), `feature`, and for a reached limit `limit`, `used`, `remaining`, `resetAt`.
fn error_info(denial: &Denial) -> Vec<u8> {
    let mut info = Vec::new();
    bytes_field(&mut info, 1, denial.code().to_ascii_uppercase().as_bytes());
    bytes_field(&mut info, 2, GRPC_ERROR_DOMAIN.as_bytes());
    let mut entry = |key: &str, value: &str| {
        let mut pair = Vec::new();
        bytes_field(&mut pair, 1, key.as_bytes());
        bytes_field(&mut pair, 2, value.as_bytes());
        bytes_field(&mut info, 3, &pair);
    };
    entry("code", denial.code());
    if let Some(feature) = denial.feature() {
        entry("feature", feature);
    }
    if let Some(quota) = denial.quota() {
        entry("limit", &quota.limit().to_string());
        entry("used", &quota.used().to_string());
        entry("remaining", &quota.remaining().to_string());
        if let Some(reset) = quota.reset_at_rfc3339() {
            entry("resetAt", &reset);
        }
    }
    info
}

/// `QuotaFailure` of a reached limit: one violation, subject `feature:<id>`, described
/// with the counts when known.
fn quota_failure(denial: &Denial) -> Option<Vec<u8>> {
    if denial.code() != "usage_limit_reached" {
        return None;
    }
    let feature = denial.feature().unwrap_or_default();
    let mut description = format!("the usage limit of {feature} is reached");
    if let Some(quota) = denial.quota() {
        let _ = write!(
            description,
            ": {} of {} used, {} remaining",
            quota.used(),
            quota.limit(),
            quota.remaining()
        );
        if let Some(reset) = quota.reset_at_rfc3339() {
            let _ = write!(description, ", resets at {reset}");
        }
    }
    let mut violation = Vec::new();
    bytes_field(&mut violation, 1, format!("feature:{feature}").as_bytes());
    bytes_field(&mut violation, 2, description.as_bytes());
    let mut failure = Vec::new();
    bytes_field(&mut failure, 1, &violation);
    Some(failure)
}

/// A `google.protobuf.Any` holding `value` of `type_url`.
fn any(type_url: &str, value: &[u8]) -> Vec<u8> {
    let mut any = Vec::new();
    bytes_field(&mut any, 1, type_url.as_bytes());
    bytes_field(&mut any, 2, value);
    any
}

/// A varint field (wire type 0); zero is left out, as proto3 does.
fn varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    if value == 0 {
        return;
    }
    varint(out, u64::from(number) << 3);
    varint(out, value);
}

/// A length-delimited field (wire type 2); an empty one is left out, as proto3 does.
fn bytes_field(out: &mut Vec<u8>, number: u32, value: &[u8]) {
    if value.is_empty() {
        return;
    }
    varint(out, (u64::from(number) << 3) | 2);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7F) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Standard base64 without padding: gRPC's encoding of binary metadata (`-bin` keys).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let [a, b, c] = [0, 1, 2].map(|i| u32::from(chunk.get(i).copied().unwrap_or(0)));
        let triple = (a << 16) | (b << 8) | c;
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                let index = (triple >> shift) & 0x3F;
                out.push(char::from(ALPHABET[index as usize]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_unpadded_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg");
        assert_eq!(base64(b"fo"), "Zm8");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg");
        assert_eq!(base64(&[0xFB, 0xFF]), "+/8");
    }

    #[test]
    fn varints_are_little_endian_groups_of_seven() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
    }
}
