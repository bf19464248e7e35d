//! Values placed in a URL path, percent-encoded as exactly one segment.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{Error, Result};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded, so
/// `/`, `?`, `#`, `%`, spaces, control and non-ASCII characters cannot leave the segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes `value` as one path segment.
///
/// # Errors
///
/// [`Error::Validation`] for an empty value (it would address the collection instead), and
/// for `.` and `..`: URL parsers treat those segments, encoded or not, as "this" and
/// "parent" directory, so no request can carry them.
pub(crate) fn segment(field: &'static str, value: &str) -> Result<String> {
    if value.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if value == "." || value == ".." {
        return Err(Error::validation(
            field,
            "\".\" and \"..\" cannot be sent as a path segment",
        ));
    }
    Ok(utf8_percent_encode(value, SEGMENT).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_ids_are_unchanged_and_others_stay_in_one_segment() {
        assert_eq!(segment("id", "cus_123-a.b~c").unwrap(), "cus_123-a.b~c");
        assert_eq!(segment("id", "a/b?c#d e%").unwrap(), "a%2Fb%3Fc%23d%20e%25");
        assert_eq!(segment("id", "../x").unwrap(), "..%2Fx");
        assert_eq!(segment("id", "€").unwrap(), "%E2%82%AC");
        assert_eq!(segment("id", "...").unwrap(), "...");
    }

    #[test]
    fn empty_and_dot_segments_are_refused() {
        for bad in ["", ".", ".."] {
            assert!(matches!(
                segment("customer_id", bad),
                Err(Error::Validation {
                    field: "customer_id",
                    ..
                })
            ));
        }
    }
}
