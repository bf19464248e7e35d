use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use super::verifier::keyed_mac;
use super::*;

const SECRET: &str = "whsec_test";
const ID: &str = "msg_1";
const TS: u64 = 1_700_000_000;
const BODY: &[u8] = br#"{"type":"subscription.updated","data":{"customerId":"c1"}}"#;
/// `hmac.new(b"whsec_test", b"msg_1.1700000000." + BODY, hashlib.sha256).hexdigest()`,
/// computed once with Python's standard library.
const KNOWN_ANSWER: &str = "ae091365ea3e513b0d05b7c8690ebcc48aa01a6d8317b8cbb9962c879cd5d182";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (ID_HEADER, id),
        (TIMESTAMP_HEADER, timestamp),
        (SIGNATURE_HEADER, signature),
    ] {
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    }
    headers
}

/// The headers of a delivery of `body` signed with `secret` at `TS`.
fn signed(secret: &str, body: &[u8]) -> HeaderMap {
    headers(ID, &TS.to_string(), &sign(secret, ID, TS, body))
}

fn verifier() -> Webhook {
    Webhook::new(SECRET).unwrap()
}

fn valid_signature() -> String {
    sign(SECRET, ID, TS, BODY)
}

/// A well-formed signature that matches nothing.
fn other_signature() -> String {
    format!("v1,{}", "0f".repeat(32))
}

fn verify_signature(signature: &str) -> Result<WebhookEvent, WebhookError> {
    verifier().verify_at(&headers(ID, &TS.to_string(), signature), BODY, at(TS))
}

// ---- The signed content and the key, pinned to the spec.

#[test]
fn known_answer_pins_the_signed_content_layout() {
    assert_eq!(sign(SECRET, ID, TS, BODY), format!("v1,{KNOWN_ANSWER}"));
    assert_eq!(
        sign(SECRET, ID, "1700000000", BODY),
        format!("v1,{KNOWN_ANSWER}")
    );
    let event = verifier()
        .verify_parts_at(
            ID,
            "1700000000",
            &format!("v1,{KNOWN_ANSWER}"),
            BODY,
            at(TS),
        )
        .unwrap();
    assert_eq!(event.id(), ID);
}

#[test]
fn known_answers_for_block_sized_and_long_keys() {
    // Python: hmac.new(b"k" * 64, ...) and hmac.new(b"whsec_" + b"x" * 94, ...).
    let block = "k".repeat(64);
    assert_eq!(
        sign(&block, ID, TS, BODY),
        "v1,b3886f7d2174a89c37dc94bdf342ababafdf9291467da4c2c3e4b520d420cacf"
    );
    let long = format!("whsec_{}", "x".repeat(94));
    assert_eq!(
        sign(&long, ID, TS, BODY),
        "v1,6251789871e9f9da0a26a4cc0c8b887dcffd468810bf94d2c80c9412a13b6abe"
    );
}

#[test]
fn keyed_mac_matches_new_from_slice_for_every_key_length() {
    for length in 0..=200 {
        let key: Vec<u8> = (0..length).map(|i| (i * 7 + 3) as u8).collect();
        let ours = keyed_mac(&key)
            .chain_update(b"message")
            .finalize()
            .into_bytes();
        let reference = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
            .unwrap()
            .chain_update(b"message")
            .finalize()
            .into_bytes();
        assert_eq!(ours, reference, "key length {length}");
    }
}

#[test]
fn the_secret_is_used_verbatim() {
    // No `whsec_` stripping, no base64 decoding.
    let stripped = Webhook::new("test").unwrap();
    assert!(matches!(
        stripped.verify_at(&signed(SECRET, BODY), BODY, at(TS)),
        Err(WebhookError::SignatureMismatch)
    ));
    let bytes = Webhook::new(SECRET.as_bytes()).unwrap();
    bytes
        .verify_at(&signed(SECRET, BODY), BODY, at(TS))
        .unwrap();
}

// ---- Accepted deliveries.

#[test]
fn a_valid_delivery_verifies_and_parses() {
    let event = verifier()
        .verify_at(&signed(SECRET, BODY), BODY, at(TS))
        .unwrap();
    assert_eq!(event.id(), ID);
    assert_eq!(event.unix_timestamp(), TS);
    assert_eq!(event.timestamp(), at(TS));
    assert_eq!(event.event_type(), Some("subscription.updated"));
    assert_eq!(event.data(), &json!({"customerId": "c1"}));
    assert_eq!(event.customer_id(), Some("c1"));
    assert_eq!(
        event.raw(),
        &json!({"type": "subscription.updated", "data": {"customerId": "c1"}})
    );
    assert_eq!(event.clone().into_raw(), *event.raw());
}

#[test]
fn verify_uses_the_current_time() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let headers = headers(ID, &now.to_string(), &sign(SECRET, ID, now, BODY));
    verifier().verify(&headers, BODY).unwrap();
    verify(SECRET, &headers, BODY).unwrap();

    // TS is long past: the real clock refuses it.
    assert!(matches!(
        verifier().verify(&signed(SECRET, BODY), BODY),
        Err(WebhookError::TimestampOutOfTolerance { age_secs, .. }) if age_secs > 0
    ));
    assert!(matches!(
        verify(SECRET, &signed(SECRET, BODY), BODY),
        Err(WebhookError::TimestampOutOfTolerance { .. })
    ));
}

#[test]
fn verify_parts_takes_the_header_values_as_strings() {
    let signature = valid_signature();
    let event = verifier()
        .verify_parts_at(ID, &TS.to_string(), &signature, BODY, at(TS))
        .unwrap();
    assert_eq!(event.customer_id(), Some("c1"));
    assert!(matches!(
        verifier().verify_parts(ID, &TS.to_string(), &signature, BODY),
        Err(WebhookError::TimestampOutOfTolerance { .. })
    ));
}

#[test]
fn header_names_are_case_insensitive() {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("Webhook-Id", ID.to_owned()),
        ("WEBHOOK-TIMESTAMP", TS.to_string()),
        ("Webhook-Signature", valid_signature()),
    ] {
        headers.insert(
            name.parse::<HeaderName>().unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    verifier().verify_at(&headers, BODY, at(TS)).unwrap();
}

#[test]
fn upper_case_hex_is_accepted() {
    let signature = format!("v1,{}", KNOWN_ANSWER.to_uppercase());
    verify_signature(&signature).unwrap();
}

// ---- Tampering and the wrong secret.

#[test]
fn a_tampered_body_is_refused() {
    let tampered = br#"{"type":"subscription.updated","data":{"customerId":"c2"}}"#;
    assert!(matches!(
        verifier().verify_at(&signed(SECRET, BODY), tampered, at(TS)),
        Err(WebhookError::SignatureMismatch)
    ));
    let reformatted = br#"{"type": "subscription.updated", "data": {"customerId": "c1"}}"#;
    assert!(matches!(
        verifier().verify_at(&signed(SECRET, BODY), reformatted, at(TS)),
        Err(WebhookError::SignatureMismatch)
    ));
}

#[test]
fn a_tampered_id_or_timestamp_is_refused() {
    let signature = valid_signature();
    assert!(matches!(
        verifier().verify_at(&headers("msg_2", &TS.to_string(), &signature), BODY, at(TS)),
        Err(WebhookError::SignatureMismatch)
    ));
    // One second later, well within the tolerance: only the signature can refuse it.
    let later = (TS + 1).to_string();
    assert!(matches!(
        verifier().verify_at(&headers(ID, &later, &signature), BODY, at(TS)),
        Err(WebhookError::SignatureMismatch)
    ));
    // The same number written differently is different signed content.
    assert!(matches!(
        verifier().verify_at(&headers(ID, "01700000000", &signature), BODY, at(TS)),
        Err(WebhookError::SignatureMismatch)
    ));
}

#[test]
fn the_wrong_secret_is_refused() {
    let headers = signed("whsec_other", BODY);
    assert!(matches!(
        verifier().verify_at(&headers, BODY, at(TS)),
        Err(WebhookError::SignatureMismatch)
    ));
}

#[test]
fn an_empty_secret_is_refused() {
    assert!(matches!(Webhook::new(""), Err(WebhookError::EmptySecret)));
    assert!(matches!(
        Webhook::new(Vec::new()),
        Err(WebhookError::EmptySecret)
    ));
    // Even for a delivery signed with the empty key.
    assert!(matches!(
        verify("", &signed("", BODY), BODY),
        Err(WebhookError::EmptySecret)
    ));
}

// ---- The timestamp tolerance.

#[test]
fn stale_and_future_timestamps_are_refused() {
    let headers = signed(SECRET, BODY);
    let verifier = verifier();
    let limit = DEFAULT_TOLERANCE.as_secs();
    verifier.verify_at(&headers, BODY, at(TS + limit)).unwrap();
    verifier.verify_at(&headers, BODY, at(TS - limit)).unwrap();
    // Fractions of a second do not count.
    verifier
        .verify_at(&headers, BODY, at(TS + limit) + Duration::from_millis(999))
        .unwrap();

    match verifier.verify_at(&headers, BODY, at(TS + limit + 1)) {
        Err(WebhookError::TimestampOutOfTolerance {
            age_secs,
            tolerance,
        }) => {
            assert_eq!(age_secs, 301);
            assert_eq!(tolerance, DEFAULT_TOLERANCE);
        }
        other => panic!("expected a stale timestamp, got {other:?}"),
    }
    match verifier.verify_at(&headers, BODY, at(TS - limit - 1)) {
        Err(WebhookError::TimestampOutOfTolerance { age_secs, .. }) => assert_eq!(age_secs, -301),
        other => panic!("expected a future timestamp, got {other:?}"),
    }
    // Far out either way, and a clock before 1970.
    assert!(matches!(
        verifier.verify_at(&headers, BODY, at(TS * 2)),
        Err(WebhookError::TimestampOutOfTolerance { age_secs, .. }) if age_secs == TS as i64
    ));
    assert!(matches!(
        verifier.verify_at(&headers, BODY, UNIX_EPOCH - Duration::from_secs(10)),
        Err(WebhookError::TimestampOutOfTolerance { age_secs, .. }) if age_secs == -(TS as i64) - 10
    ));
}

#[test]
fn the_tolerance_is_configurable() {
    let headers = signed(SECRET, BODY);
    let tight = verifier().tolerance(Duration::from_secs(60));
    tight.verify_at(&headers, BODY, at(TS + 60)).unwrap();
    tight.verify_at(&headers, BODY, at(TS - 60)).unwrap();
    assert!(matches!(
        tight.verify_at(&headers, BODY, at(TS + 61)),
        Err(WebhookError::TimestampOutOfTolerance { age_secs: 61, .. })
    ));
    assert!(matches!(
        tight.verify_at(&headers, BODY, at(TS - 61)),
        Err(WebhookError::TimestampOutOfTolerance { age_secs: -61, .. })
    ));

    let loose = verifier().tolerance(Duration::from_secs(3600));
    loose.verify_at(&headers, BODY, at(TS + 3600)).unwrap();

    let zero = verifier().tolerance(Duration::ZERO);
    zero.verify_at(&headers, BODY, at(TS)).unwrap();
    zero.verify_at(&headers, BODY, at(TS) + Duration::from_millis(500))
        .unwrap();
    assert!(matches!(
        zero.verify_at(&headers, BODY, at(TS + 1)),
        Err(WebhookError::TimestampOutOfTolerance { age_secs: 1, .. })
    ));
}

#[test]
fn the_timestamp_check_can_be_disabled() {
    let delivery = signed(SECRET, BODY);
    let lax = verifier().disable_timestamp_check();
    lax.verify_at(&delivery, BODY, at(TS + 10 * 365 * 24 * 3600))
        .unwrap();
    lax.verify_at(&delivery, BODY, UNIX_EPOCH).unwrap();
    // A later `tolerance` turns it back on.
    assert!(matches!(
        lax.tolerance(DEFAULT_TOLERANCE)
            .verify_at(&delivery, BODY, at(TS + 301)),
        Err(WebhookError::TimestampOutOfTolerance { .. })
    ));
    // The timestamp must still be an integer, and still signed.
    let lax = verifier().disable_timestamp_check();
    let signature = sign(SECRET, ID, "soon", BODY);
    assert!(matches!(
        lax.verify_at(&headers(ID, "soon", &signature), BODY, at(TS)),
        Err(WebhookError::InvalidTimestamp)
    ));
    assert!(matches!(
        lax.verify_at(&signed("whsec_other", BODY), BODY, at(TS)),
        Err(WebhookError::SignatureMismatch)
    ));
}

#[test]
fn a_forged_stale_delivery_is_a_signature_mismatch() {
    // The signature is checked before the age: an age error means an authentic delivery.
    let headers = signed("whsec_other", BODY);
    assert!(matches!(
        verifier().verify_at(&headers, BODY, at(TS + 3600)),
        Err(WebhookError::SignatureMismatch)
    ));
}

#[test]
fn malformed_timestamps_are_refused() {
    for timestamp in [
        "abc",
        "1700000000.5",
        "1.7e9",
        "-1700000000",
        "+1700000000",
        " 1700000000",
        "1700000000 ",
        "1_700_000_000",
        "99999999999999999999999",
        "١٧٠٠٠٠٠٠٠٠",
    ] {
        // Correctly signed, so only the timestamp format can refuse it.
        let signature = sign(SECRET, ID, timestamp, BODY);
        let result = verifier().disable_timestamp_check().verify_parts_at(
            ID,
            timestamp,
            &signature,
            BODY,
            at(TS),
        );
        assert!(
            matches!(result, Err(WebhookError::InvalidTimestamp)),
            "{timestamp:?}: {result:?}"
        );
    }
}

// ---- Several signatures.

#[test]
fn any_matching_v1_signature_is_enough() {
    let valid = valid_signature();
    let other = other_signature();
    for signature in [
        format!("{valid} {other}"),
        format!("{other} {valid}"),
        format!("{other} {valid} {other}"),
        format!("  {other}   {valid}  "),
        format!("{other}\t{valid}"),
    ] {
        verify_signature(&signature).unwrap_or_else(|error| panic!("{signature}: {error}"));
    }
}

#[test]
fn no_matching_signature_is_a_mismatch() {
    let other = other_signature();
    let rotated = sign("whsec_old", ID, TS, BODY);
    for signature in [other.clone(), format!("{other} {rotated}")] {
        assert!(matches!(
            verify_signature(&signature),
            Err(WebhookError::SignatureMismatch)
        ));
    }
}

#[test]
fn other_versions_are_ignored() {
    let valid = valid_signature();
    let hex = &valid[3..];
    // A v2 entry with a valid v1 signature in it does not count.
    assert!(matches!(
        verify_signature(&format!("v2,{hex} {}", other_signature())),
        Err(WebhookError::SignatureMismatch)
    ));
    // Unparseable v2 or v1a entries are skipped.
    verify_signature(&format!("v2,not-hex!! v1a,zz {valid}")).unwrap();
    verify_signature(&format!("{valid} v1b,{}", "ab".repeat(40))).unwrap();
    // Without any v1 entry, the header is malformed.
    assert!(matches!(
        verify_signature(&format!("v2,{hex}")),
        Err(WebhookError::InvalidSignatureFormat {
            reason: "no v1 signature"
        })
    ));
    assert!(matches!(
        verify_signature(&format!("V1,{hex}")),
        Err(WebhookError::InvalidSignatureFormat { .. })
    ));
}

// ---- Malformed and missing headers.

#[test]
fn malformed_signatures_are_refused() {
    let valid = valid_signature();
    let hex = &valid[3..];
    for signature in [
        hex.to_owned(),                                               // no `v1,` prefix
        format!("v1{hex}"),                                           // no comma
        format!("v1,{}", &hex[..63]),                                 // 63 digits
        format!("v1,{}", &hex[..62]),                                 // 31 bytes
        format!("v1,{hex}00"),                                        // 33 bytes
        format!("v1,{}g", &hex[..63]),                                // not hex
        "v1,".to_owned(),                                             // empty
        "v1,rgkTZeo+UTsNBbfHaQvrxIqgGm2DF7jLuZYsh5zV0YI=".to_owned(), // base64
        format!("{valid} {hex}"),  // one good entry, one without a version
        format!("{valid} v1,xyz"), // one good entry, one malformed v1
        format!("v1,{hex}é"),      // non-ASCII
    ] {
        let result = verify_signature(&signature);
        assert!(
            matches!(result, Err(WebhookError::InvalidSignatureFormat { .. })),
            "{signature:?}: {result:?}"
        );
    }
}

#[test]
fn missing_or_empty_headers_are_refused() {
    let complete = signed(SECRET, BODY);
    for name in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
        let mut missing = complete.clone();
        missing.remove(name);
        assert!(matches!(
            verifier().verify_at(&missing, BODY, at(TS)),
            Err(WebhookError::MissingHeader(missing_name)) if missing_name == name
        ));

        let mut empty = complete.clone();
        empty.insert(name, HeaderValue::from_static(""));
        assert!(matches!(
            verifier().verify_at(&empty, BODY, at(TS)),
            Err(WebhookError::MissingHeader(empty_name)) if empty_name == name
        ));
    }
    assert!(matches!(
        verifier().verify_at(&HeaderMap::new(), BODY, at(TS)),
        Err(WebhookError::MissingHeader(ID_HEADER))
    ));

    let signature = valid_signature();
    let ts = TS.to_string();
    for (id, timestamp, signature, name) in [
        ("", ts.as_str(), signature.as_str(), ID_HEADER),
        (ID, "", signature.as_str(), TIMESTAMP_HEADER),
        (ID, ts.as_str(), "", SIGNATURE_HEADER),
    ] {
        assert!(matches!(
            verifier().verify_parts_at(id, timestamp, signature, BODY, at(TS)),
            Err(WebhookError::MissingHeader(missing_name)) if missing_name == name
        ));
    }
}

#[test]
fn non_utf8_header_values_are_refused() {
    let complete = signed(SECRET, BODY);
    for name in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
        let mut headers = complete.clone();
        headers.insert(name, HeaderValue::from_bytes(b"msg\xff").unwrap());
        assert!(matches!(
            verifier().verify_at(&headers, BODY, at(TS)),
            Err(WebhookError::InvalidHeader(invalid)) if invalid == name
        ));
    }
}

#[test]
fn the_first_of_repeated_headers_is_used() {
    let mut headers = signed(SECRET, BODY);
    headers.append(ID_HEADER, HeaderValue::from_static("msg_other"));
    let event = verifier().verify_at(&headers, BODY, at(TS)).unwrap();
    assert_eq!(event.id(), ID);
}

// ---- The payload.

#[test]
fn bodies_that_are_not_utf8_json_are_refused() {
    for body in [
        &b"not json"[..],
        b"",
        b"{\"type\":",
        b"{\"type\":\"\xff\"}",
        b"\xff\xfe{}",
        b"{} trailing",
    ] {
        let result = verifier().verify_at(&signed(SECRET, body), body, at(TS));
        match result {
            Err(error @ WebhookError::InvalidPayload(_)) => {
                assert!(std::error::Error::source(&error).is_some());
            }
            other => panic!("{body:?}: expected InvalidPayload, got {other:?}"),
        }
    }
}

#[test]
fn any_json_value_is_a_payload() {
    for body in [&b"[1,2]"[..], b"\"text\"", b"null", b"42", b" {} "] {
        let event = verifier()
            .verify_at(&signed(SECRET, body), body, at(TS))
            .unwrap();
        assert_eq!(event.event_type(), None);
        assert_eq!(event.customer_id(), None);
        assert_eq!(event.data(), event.raw());
    }
}

fn event(body: &serde_json::Value) -> WebhookEvent {
    let body = serde_json::to_vec(body).unwrap();
    verifier()
        .verify_at(&signed(SECRET, &body), &body, at(TS))
        .unwrap()
}

#[test]
fn the_event_type_is_read_from_several_keys() {
    for key in ["type", "event", "eventType", "event_type"] {
        assert_eq!(
            event(&json!({ key: "customer.created" })).event_type(),
            Some("customer.created")
        );
    }
    // `type` wins; non-strings are skipped.
    assert_eq!(
        event(&json!({"event_type": "b", "type": "a"})).event_type(),
        Some("a")
    );
    assert_eq!(
        event(&json!({"event": {"name": "x"}, "eventType": "b"})).event_type(),
        Some("b")
    );
    assert_eq!(event(&json!({"type": 3})).event_type(), None);
}

#[test]
fn data_is_the_data_key_or_the_whole_body() {
    assert_eq!(event(&json!({"data": {"a": 1}})).data(), &json!({"a": 1}));
    assert_eq!(event(&json!({"data": null})).data(), &json!(null));
    let flat = json!({"type": "x", "customerId": "c9"});
    let flat_event = event(&flat);
    assert_eq!(flat_event.data(), &flat);
    assert_eq!(flat_event.customer_id(), Some("c9"));
}

#[test]
fn the_customer_id_is_found_where_payloads_put_it() {
    let cases = [
        (json!({"data": {"customerId": "c1"}}), Some("c1")),
        (json!({"data": {"customer_id": "c2"}}), Some("c2")),
        (
            json!({"data": {"customer": {"customerId": "c3"}}}),
            Some("c3"),
        ),
        (
            json!({"data": {"customer": {"customer_id": "c4"}}}),
            Some("c4"),
        ),
        (
            json!({"customerId": "c5", "data": {"plan": "pro"}}),
            Some("c5"),
        ),
        (
            json!({"customer": {"customerId": "c6"}, "data": {}}),
            Some("c6"),
        ),
        // data first, then the top level.
        (
            json!({"customerId": "top", "data": {"customerId": "inner"}}),
            Some("inner"),
        ),
        // Direct keys before the nested object.
        (
            json!({"data": {"customer": {"customerId": "n"}, "customer_id": "d"}}),
            Some("d"),
        ),
        // Empty and non-string ids do not count.
        (
            json!({"data": {"customerId": "", "customer_id": "c7"}}),
            Some("c7"),
        ),
        (json!({"data": {"customerId": 42}}), None),
        (json!({"data": {"customer": "c8"}}), None),
        (json!({"data": {"id": "x"}}), None),
    ];
    for (body, expected) in cases {
        assert_eq!(event(&body).customer_id(), expected, "{body}");
    }
}

#[test]
fn data_deserializes_into_your_type() {
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Updated<'a> {
        customer_id: &'a str,
        plan: String,
    }
    let event = event(&json!({"type": "x", "data": {"customerId": "c1", "plan": "pro"}}));
    assert_eq!(
        event.data_as::<Updated<'_>>().unwrap(),
        Updated {
            customer_id: "c1",
            plan: "pro".to_owned()
        }
    );
    assert!(event.data_as::<Vec<u8>>().is_err());
}

// ---- Secrets stay secret.

#[test]
fn debug_hides_the_secret() {
    let verifier = verifier();
    let debug = format!("{verifier:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains("whsec"),
        "{debug}"
    );
    assert!(debug.contains("***"), "{debug}");
    let debug = format!("{verifier:#?}");
    assert!(!debug.contains(SECRET), "{debug}");
}

#[test]
fn no_error_reveals_the_secret_or_the_expected_signature() {
    let valid = valid_signature();
    let errors = [
        Webhook::new("").unwrap_err(),
        verifier()
            .verify_at(&HeaderMap::new(), BODY, at(TS))
            .unwrap_err(),
        {
            let mut headers = signed(SECRET, BODY);
            headers.insert(ID_HEADER, HeaderValue::from_bytes(b"\xff").unwrap());
            verifier().verify_at(&headers, BODY, at(TS)).unwrap_err()
        },
        verify_signature("v1,zz").unwrap_err(),
        verify_signature(&other_signature()).unwrap_err(),
        verifier()
            .verify_parts_at(ID, "x", &valid, BODY, at(TS))
            .unwrap_err(),
        verifier()
            .verify_at(&signed(SECRET, BODY), BODY, at(TS + 3600))
            .unwrap_err(),
        verifier()
            .verify_at(&signed(SECRET, BODY), BODY, at(TS - 3600))
            .unwrap_err(),
        verifier()
            .verify_at(&signed(SECRET, b"nope"), b"nope", at(TS))
            .unwrap_err(),
    ];
    for error in &errors {
        let crate_error = crate::Error::from(WebhookError::SignatureMismatch);
        for text in [
            error.to_string(),
            format!("{error:?}"),
            format!("{error:#?}"),
            crate_error.to_string(),
        ] {
            assert!(!text.contains(SECRET), "{text}");
            assert!(!text.contains(&valid[3..]), "{text}");
            assert!(!text.contains(&KNOWN_ANSWER[..16]), "{text}");
        }
        let message = error.to_string();
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
    }
}

#[test]
fn error_messages() {
    let cases: [(WebhookError, &str); 7] = [
        (WebhookError::EmptySecret, "the webhook secret is empty"),
        (
            WebhookError::MissingHeader(ID_HEADER),
            "missing or empty webhook-id header",
        ),
        (
            WebhookError::InvalidHeader(SIGNATURE_HEADER),
            "the webhook-signature header is not valid UTF-8",
        ),
        (
            WebhookError::InvalidSignatureFormat {
                reason: "no v1 signature",
            },
            "malformed webhook-signature header: no v1 signature",
        ),
        (
            WebhookError::SignatureMismatch,
            "webhook signature mismatch",
        ),
        (
            WebhookError::TimestampOutOfTolerance {
                age_secs: 400,
                tolerance: DEFAULT_TOLERANCE,
            },
            "the webhook timestamp is 400s old, beyond the 300s tolerance",
        ),
        (
            WebhookError::TimestampOutOfTolerance {
                age_secs: -400,
                tolerance: DEFAULT_TOLERANCE,
            },
            "the webhook timestamp is 400s in the future, beyond the 300s tolerance",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
    assert_eq!(
        WebhookError::InvalidTimestamp.to_string(),
        "malformed webhook-timestamp header: expected unix seconds"
    );
    let extreme = WebhookError::TimestampOutOfTolerance {
        age_secs: i64::MIN,
        tolerance: Duration::ZERO,
    };
    assert!(
        extreme
            .to_string()
            .contains("9223372036854775808s in the future")
    );
}

#[test]
fn converts_into_the_crate_error() {
    let error: crate::Error = WebhookError::SignatureMismatch.into();
    assert_eq!(error.to_string(), "webhook signature mismatch");
    assert!(matches!(
        error,
        crate::Error::Webhook(WebhookError::SignatureMismatch)
    ));
    assert!(!error.is_retryable());
}

#[test]
fn the_verifier_is_shareable() {
    fn assert_shareable<T: Send + Sync + Clone + 'static>() {}
    assert_shareable::<Webhook>();
    assert_shareable::<WebhookEvent>();
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<WebhookError>();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn signing_then_verifying_round_trips(
        id in "[!-~]{1,40}",
        timestamp in 0u64..4_000_000_000,
        secret in proptest::collection::vec(any::<u8>(), 1..100),
        text in "\\PC{0,64}",
    ) {
        let body = serde_json::to_vec(&json!({ "type": "t", "data": { "text": text } })).unwrap();
        let verifier = Webhook::new(&secret).unwrap();
        let signature = sign(&secret, &id, timestamp, &body);
        let event = verifier
            .verify_parts_at(&id, &timestamp.to_string(), &signature, &body, at(timestamp))
            .unwrap();
        prop_assert_eq!(event.id(), id.as_str());
        prop_assert_eq!(event.unix_timestamp(), timestamp);
    }

    #[test]
    fn flipping_any_bit_of_the_body_breaks_the_signature(
        index in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut body = BODY.to_vec();
        let position = index.index(body.len());
        body[position] ^= 1 << bit;
        let result = verifier().verify_at(&signed(SECRET, BODY), &body, at(TS));
        prop_assert!(matches!(result, Err(WebhookError::SignatureMismatch)));
    }
}
