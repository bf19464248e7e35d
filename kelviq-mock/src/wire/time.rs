//! The timestamp formats of the wire, and today's date (the mock runs on wall-clock UTC).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Today's date in UTC.
pub(crate) fn today() -> Date {
    Timestamp::now().to_zoned(TimeZone::UTC).date()
}

/// ISO-8601 with microseconds and `Z`, as DRF renders a `DateTimeField`.
pub(crate) fn format_datetime(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `YYYY-MM-DD`.
pub(crate) fn format_date(date: Date) -> String {
    date.strftime("%Y-%m-%d").to_string()
}

/// `YYYY-MM-DD HH:MM:SS.ffffff`, the event and usage timestamp format.
pub(crate) fn format_event_timestamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// `YYYY-MM-DD HH:MM:SS`, the format of `resetAt` in entitlement entries: the start of the
/// next calendar month (UTC) after `at`.
pub(crate) fn format_reset_at(at: Timestamp) -> String {
    let date = at.to_zoned(TimeZone::UTC).date();
    let next_month = date.first_of_month().checked_add(1.month()).unwrap_or(date);
    next_month
        .to_datetime(jiff::civil::Time::midnight())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `at` (whole seconds, UTC) as `resetAt`: `YYYY-MM-DD HH:MM:SS`.
pub(crate) fn format_reset_instant(at: Timestamp) -> String {
    at.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Parses a strict `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    if text.len() != 10 {
        return None;
    }
    Date::strptime("%Y-%m-%d", text).ok()
}

/// A bound of a date-time filter (`modified_on_after`, `modified_on_before`): a whole UTC
/// day or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DayOrInstant {
    /// `YYYY-MM-DD`: the whole day, in UTC.
    Day(Date),
    /// An RFC 3339 timestamp with a `Z` or an offset.
    Instant(Timestamp),
}

impl DayOrInstant {
    /// As a lower bound: whether `at` is on or after the day, or at or after the instant.
    pub(crate) fn lower_admits(self, at: Timestamp) -> bool {
        match self {
            DayOrInstant::Day(day) => day <= at.to_zoned(TimeZone::UTC).date(),
            DayOrInstant::Instant(bound) => bound <= at,
        }
    }

    /// As an upper bound: whether `at` is on or before the day, or at or before the instant.
    pub(crate) fn upper_admits(self, at: Timestamp) -> bool {
        match self {
            DayOrInstant::Day(day) => day >= at.to_zoned(TimeZone::UTC).date(),
            DayOrInstant::Instant(bound) => bound >= at,
        }
    }
}

/// Parses a strict `YYYY-MM-DD` or a timestamp with a `Z` or an offset
/// (`2025-02-01T00:00:00Z`, `2025-02-01T01:00:00.5+01:00`). A date-time without an offset
/// names no instant and is refused.
pub(crate) fn parse_day_or_instant(text: &str) -> Option<DayOrInstant> {
    if let Some(day) = parse_date(text) {
        return Some(DayOrInstant::Day(day));
    }
    // RFC 3339: a four-digit year first, and a `Z` or a `±HH:MM` offset of less than a
    // day last (jiff alone would take `+25:00` and `+0100`).
    let bytes = text.as_bytes();
    let year_first =
        bytes.len() > 10 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-';
    if !year_first || !rfc3339_offset(text) {
        return None;
    }
    text.parse::<Timestamp>().ok().map(DayOrInstant::Instant)
}

/// Whether `text` ends with `Z` (or `z`) or a `±HH:MM` offset with `HH` ≤ 23, `MM` ≤ 59.
fn rfc3339_offset(text: &str) -> bool {
    if text.ends_with(['Z', 'z']) {
        return true;
    }
    let Some(offset) = text
        .len()
        .checked_sub(6)
        .and_then(|start| text.get(start..))
    else {
        return false;
    };
    let bytes = offset.as_bytes();
    let two_digits = |at: usize, max: u8| {
        matches!((bytes.get(at), bytes.get(at + 1)), (Some(tens), Some(units))
            if tens.is_ascii_digit() && units.is_ascii_digit()
                && (tens - b'0') * 10 + (units - b'0') <= max)
    };
    matches!(bytes.first(), Some(b'+' | b'-'))
        && bytes.get(3) == Some(&b':')
        && two_digits(1, 23)
        && two_digits(4, 59)
}

/// Parses an event timestamp: `YYYY-MM-DD HH:MM:SS.f` with 1 to 6 fraction digits, a space
/// separator and no zone — the format `kelviq-api.md` section 4.4.2 requires.
pub(crate) fn parse_event_timestamp(text: &str) -> Option<DateTime> {
    let (_, fraction) = text.rsplit_once('.')?;
    if fraction.is_empty() || fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    DateTime::strptime("%Y-%m-%d %H:%M:%S%.f", text).ok()
}

/// Parses a `trial_end`: the literal `now`, or an ISO-8601 date-time (a `T` or a space
/// between date and time, an optional `Z` or offset; naive values are UTC).
pub(crate) fn parse_trial_end(text: &str, now: Timestamp) -> Option<Timestamp> {
    if text == "now" {
        return Some(now);
    }
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    let normalised = text.replacen(' ', "T", 1);
    normalised
        .parse::<DateTime>()
        .ok()
        .and_then(|naive| naive.to_zoned(TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_timestamps_need_a_fraction_of_one_to_six_digits() {
        assert!(parse_event_timestamp("2025-05-22 08:27:45.123456").is_some());
        assert!(parse_event_timestamp("2025-05-22 08:27:45.1").is_some());
        assert!(parse_event_timestamp("2025-05-22 08:27:45").is_none());
        assert!(parse_event_timestamp("2025-05-22T08:27:45.123").is_none());
        assert!(parse_event_timestamp("2025-05-22 08:27:45.1234567").is_none());
        assert!(parse_event_timestamp("2025-05-22 08:27:45.123Z").is_none());
    }

    #[test]
    fn formats_round_trip() {
        let at: Timestamp = "2025-05-22T08:27:45.5Z".parse().unwrap();
        assert_eq!(format_datetime(at), "2025-05-22T08:27:45.500000Z");
        assert_eq!(format_event_timestamp(at), "2025-05-22 08:27:45.500000");
        assert_eq!(format_reset_at(at), "2025-06-01 00:00:00");
        assert!(parse_event_timestamp(&format_event_timestamp(at)).is_some());
        assert_eq!(
            parse_date("2025-05-22").map(format_date).as_deref(),
            Some("2025-05-22")
        );
        assert!(parse_date("2025-5-22").is_none());
    }

    #[test]
    fn filter_bounds_are_a_day_or_an_instant_with_an_offset() {
        let at: Timestamp = "2025-02-01T00:00:00Z".parse().unwrap();
        for text in [
            "2025-02-01T00:00:00Z",
            "2025-02-01T01:00:00+01:00",
            "2025-01-31T19:00:00-05:00",
            "2025-02-01 00:00:00Z",
            "2025-02-01T00:00:00.000Z",
            "2025-02-01T00:00:00z",
            "2025-02-01T23:59:00+23:59",
        ] {
            assert_eq!(
                parse_day_or_instant(text),
                Some(DayOrInstant::Instant(at)),
                "{text}"
            );
        }
        assert_eq!(
            parse_day_or_instant("2025-02-01"),
            Some(DayOrInstant::Day(parse_date("2025-02-01").unwrap()))
        );
        for bad in [
            "",
            "yesterday",
            "2025-2-1",
            "2025-02-01T00:00:00",
            "2025-02-30T00:00:00Z",
            "1738368000",
            "+002025-02-01T00:00:00Z",
            "2025-02-01T00:00:00+25:00",
            "2025-02-01T00:00:00+24:00",
            "2025-02-01T00:00:00+01:60",
            "2025-02-01T00:00:00+0100",
            "2025-02-01T00:00:00+01",
        ] {
            assert_eq!(parse_day_or_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn day_bounds_cover_the_whole_utc_day() {
        let day = DayOrInstant::Day(parse_date("2025-02-01").unwrap());
        let first: Timestamp = "2025-02-01T00:00:00Z".parse().unwrap();
        let last: Timestamp = "2025-02-01T23:59:59.999Z".parse().unwrap();
        let next: Timestamp = "2025-02-02T00:00:00Z".parse().unwrap();
        assert!(day.lower_admits(first) && day.upper_admits(last));
        assert!(!day.upper_admits(next) && day.lower_admits(next));
        let instant = DayOrInstant::Instant("2025-02-01T12:00:00Z".parse().unwrap());
        assert!(instant.upper_admits(first) && !instant.upper_admits(last));
        assert!(instant.lower_admits(last) && !instant.lower_admits(first));
    }

    #[test]
    fn trial_end_accepts_now_and_iso_forms() {
        let now = Timestamp::now();
        assert_eq!(parse_trial_end("now", now), Some(now));
        assert!(parse_trial_end("2030-12-31 23:59:59", now).is_some());
        assert!(parse_trial_end("2030-12-31T23:59:59Z", now).is_some());
        assert!(parse_trial_end("tomorrow", now).is_none());
    }
}
