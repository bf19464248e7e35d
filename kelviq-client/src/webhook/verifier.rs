//! The verifier, the signer and the signed-content layout.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::digest::Key;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;

use super::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookError, WebhookEvent};

type HmacSha256 = Hmac<Sha256>;

/// The default [`Webhook::tolerance`]: 5 minutes either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The length of an HMAC-SHA256 signature in bytes (64 hex digits).
const SIGNATURE_LEN: usize = 32;

/// The signature version this verifier knows.
const VERSION: &str = "v1";

/// The webhook secret, held as the HMAC state keyed with it. Its `Debug` prints `***`.
#[derive(Clone)]
struct Secret(HmacSha256);

impl Secret {
    fn new(secret: &[u8]) -> Self {
        Secret(keyed_mac(secret))
    }

    /// The MAC of the signed content, `<id>.<timestamp>.<body>`, ready to finalize.
    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// HMAC-SHA256 keyed with `secret`, whatever its length.
///
/// HMAC (RFC 2104, section 2) pads a key shorter than the hash's 64-byte block with zeros
/// and replaces a longer one by its SHA-256 digest, zero-padded; a key of exactly one block
/// is used as is. Deriving that block here lets us use the infallible `KeyInit::new`
/// instead of `new_from_slice`, whose error cannot happen for HMAC but would need an
/// `expect`. The unit tests check it against `new_from_slice` for every length up to 200.
pub(super) fn keyed_mac(secret: &[u8]) -> HmacSha256 {
    let mut block = Key::<HmacSha256>::default();
    if secret.len() <= block.len() {
        block.iter_mut().zip(secret).for_each(|(b, k)| *b = *k);
    } else {
        let digest = <Sha256 as sha2::Digest>::digest(secret);
        block
            .iter_mut()
            .zip(digest.iter())
            .for_each(|(b, k)| *b = *k);
    }
    <HmacSha256 as KeyInit>::new(&block)
}

/// Verifies webhook deliveries signed with one secret.
///
/// Build it once (it precomputes the keyed HMAC state) and share it: it is `Clone`, `Send`
/// and `Sync`. Its `Debug` hides the secret.
///
/// ```
/// use std::time::Duration;
///
/// use kelviq_client::webhook::Webhook;
///
/// let verifier = Webhook::new("whsec_test")?.tolerance(Duration::from_secs(60));
/// assert!(!format!("{verifier:?}").contains("whsec_test"));
/// # Ok::<(), kelviq_client::webhook::WebhookError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Webhook {
    secret: Secret,
    tolerance: Option<Duration>,
}

impl Webhook {
    /// A verifier for deliveries signed with `secret`: its bytes verbatim (for a string,
    /// its UTF-8 bytes, `whsec_` prefix included), with the [`DEFAULT_TOLERANCE`].
    ///
    /// # Errors
    ///
    /// [`WebhookError::EmptySecret`] if `secret` is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, WebhookError> {
        let secret = secret.as_ref();
        if secret.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        Ok(Webhook {
            secret: Secret::new(secret),
            tolerance: Some(DEFAULT_TOLERANCE),
        })
    }

    /// How far the delivery's timestamp may be from the verification time, in the past or
    /// in the future, to the second (fractions of a second are ignored). Default:
    /// [`DEFAULT_TOLERANCE`], 5 minutes.
    ///
    /// `Duration::ZERO` accepts only deliveries signed within the current second; it does
    /// not disable the check (see [`disable_timestamp_check`](Self::disable_timestamp_check)).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    /// Accepts deliveries whatever their timestamp (it must still be an integer).
    ///
    /// **Unsafe against replays**: anyone who captured one delivery (a log, a proxy) can
    /// send it again at any time and it will verify. Only use it together with your own
    /// replay protection, e.g. by remembering [`WebhookEvent::id`]s (a
    /// [`ReplayGuard`](super::ReplayGuard) then remembers them until its capacity evicts
    /// them, not for a time). Default: the check is on.
    #[must_use]
    pub fn disable_timestamp_check(mut self) -> Self {
        self.tolerance = None;
        self
    }

    /// The timestamp tolerance, `None` when the check is
    /// [disabled](Self::disable_timestamp_check).
    pub fn timestamp_tolerance(&self) -> Option<Duration> {
        self.tolerance
    }

    /// Verifies a delivery from its headers (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`, case-insensitive) and its raw body, at the current time.
    ///
    /// If a header appears more than once, its first value is used.
    ///
    /// # Errors
    ///
    /// In the order of the checks:
    /// [`MissingHeader`](WebhookError::MissingHeader) if a header is absent or empty,
    /// [`InvalidHeader`](WebhookError::InvalidHeader) if one is not UTF-8,
    /// [`InvalidSignatureFormat`](WebhookError::InvalidSignatureFormat),
    /// [`InvalidTimestamp`](WebhookError::InvalidTimestamp),
    /// [`SignatureMismatch`](WebhookError::SignatureMismatch),
    /// [`TimestampOutOfTolerance`](WebhookError::TimestampOutOfTolerance) (only for an
    /// authentic delivery), and [`InvalidPayload`](WebhookError::InvalidPayload) if the
    /// body is not JSON.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// [`verify`](Self::verify) as if the current time were `now`: for tests, and for
    /// re-checking a stored delivery against the time it was received.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<WebhookEvent, WebhookError> {
        let id = header(headers, ID_HEADER)?;
        let timestamp = header(headers, TIMESTAMP_HEADER)?;
        let signature = header(headers, SIGNATURE_HEADER)?;
        self.verify_parts_at(id, timestamp, signature, body, now)
    }

    /// [`verify`](Self::verify) with the values of the `webhook-id`, `webhook-timestamp`
    /// and `webhook-signature` headers as strings, for frameworks whose header types are
    /// not `http` 1's (actix-web 4 is on `http` 0.2). Pass `""` for a missing header.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub fn verify_parts(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        self.verify_parts_at(id, timestamp, signature, body, SystemTime::now())
    }

    /// [`verify_parts`](Self::verify_parts) as if the current time were `now`.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub fn verify_parts_at(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<WebhookEvent, WebhookError> {
        let id = non_empty(ID_HEADER, id)?;
        let timestamp = non_empty(TIMESTAMP_HEADER, timestamp)?;
        let signature = non_empty(SIGNATURE_HEADER, signature)?;

        let signatures = parse_signatures(signature)?;
        let (unix_timestamp, at) = parse_timestamp(timestamp)?;

        let mac = self.secret.mac(id, timestamp, body);
        // `verify_slice` compares in constant time. Which entry matched is no secret, so
        // stopping at the first match leaks nothing.
        if !signatures
            .iter()
            .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
        {
            return Err(WebhookError::SignatureMismatch);
        }

        if let Some(tolerance) = self.tolerance {
            check_age(unix_timestamp, now, tolerance)?;
        }

        let raw = serde_json::from_slice(body).map_err(WebhookError::InvalidPayload)?;
        Ok(WebhookEvent::new(id.to_owned(), at, unix_timestamp, raw))
    }
}

/// Verifies a delivery with a one-off [`Webhook`] for `secret` and the
/// [`DEFAULT_TOLERANCE`]. Prefer building one [`Webhook`] at startup when verifying many.
///
/// # Errors
///
/// [`WebhookError::EmptySecret`] if `secret` is empty, otherwise as [`Webhook::verify`].
pub fn verify(
    secret: impl AsRef<[u8]>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<WebhookEvent, WebhookError> {
    Webhook::new(secret)?.verify(headers, body)
}

/// The `webhook-signature` header value Kelviq would send for this delivery:
/// `v1,<lower-case hex HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
///
/// For tests and mock servers: sign a payload, then feed it to your webhook endpoint.
/// `timestamp` is written as given (`1700000000`, or a string).
///
/// ```
/// let signature = kelviq_client::webhook::sign("whsec_test", "msg_1", 1_700_000_000, b"{}");
/// assert!(signature.starts_with("v1,"));
/// assert_eq!(signature.len(), 3 + 64);
/// ```
pub fn sign(
    secret: impl AsRef<[u8]>,
    id: &str,
    timestamp: impl fmt::Display,
    body: &[u8],
) -> String {
    let mac = Secret::new(secret.as_ref()).mac(id, &timestamp.to_string(), body);
    format!("{VERSION},{}", hex::encode(mac.finalize().into_bytes()))
}

/// The value of header `name`, as UTF-8.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, WebhookError> {
    let value = headers.get(name).ok_or(WebhookError::MissingHeader(name))?;
    std::str::from_utf8(value.as_bytes()).map_err(|_| WebhookError::InvalidHeader(name))
}

fn non_empty<'a>(name: &'static str, value: &'a str) -> Result<&'a str, WebhookError> {
    if value.is_empty() {
        Err(WebhookError::MissingHeader(name))
    } else {
        Ok(value)
    }
}

/// The decoded `v1` signatures of a `webhook-signature` header: space-separated
/// `<version>,<signature>` entries, other versions skipped.
fn parse_signatures(header: &str) -> Result<Vec<[u8; SIGNATURE_LEN]>, WebhookError> {
    let mut signatures = Vec::new();
    for entry in header.split_ascii_whitespace() {
        let Some((version, signature)) = entry.split_once(',') else {
            return Err(WebhookError::InvalidSignatureFormat {
                reason: "an entry is not `<version>,<signature>`",
            });
        };
        if version != VERSION {
            continue;
        }
        let mut decoded = [0; SIGNATURE_LEN];
        hex::decode_to_slice(signature, &mut decoded).map_err(|_| {
            WebhookError::InvalidSignatureFormat {
                reason: "a v1 signature is not 64 hex digits",
            }
        })?;
        signatures.push(decoded);
    }
    if signatures.is_empty() {
        return Err(WebhookError::InvalidSignatureFormat {
            reason: "no v1 signature",
        });
    }
    Ok(signatures)
}

/// Unix seconds: ASCII digits only (no sign, no spaces, no fraction), representable as a
/// `SystemTime`.
fn parse_timestamp(timestamp: &str) -> Result<(u64, SystemTime), WebhookError> {
    if !timestamp.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(WebhookError::InvalidTimestamp);
    }
    let seconds: u64 = timestamp
        .parse()
        .map_err(|_| WebhookError::InvalidTimestamp)?;
    let at = UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .ok_or(WebhookError::InvalidTimestamp)?;
    Ok((seconds, at))
}

/// Refuses a timestamp more than `tolerance` (whole seconds) before or after `now`.
fn check_age(timestamp: u64, now: SystemTime, tolerance: Duration) -> Result<(), WebhookError> {
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(since) => i128::from(since.as_secs()),
        Err(before) => -i128::from(before.duration().as_secs()),
    };
    let age = now - i128::from(timestamp);
    if age.unsigned_abs() > u128::from(tolerance.as_secs()) {
        let age_secs = i64::try_from(age).unwrap_or(if age < 0 { i64::MIN } else { i64::MAX });
        return Err(WebhookError::TimestampOutOfTolerance {
            age_secs,
            tolerance,
        });
    }
    Ok(())
}
