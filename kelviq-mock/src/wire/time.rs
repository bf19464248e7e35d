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

/// Parses a strict `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    if text.len() != 10 {
        return None;
    }
    Date::strptime("%Y-%m-%d", text).ok()
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
    fn trial_end_accepts_now_and_iso_forms() {
        let now = Timestamp::now();
        assert_eq!(parse_trial_end("now", now), Some(now));
        assert!(parse_trial_end("2030-12-31 23:59:59", now).is_some());
        assert!(parse_trial_end("2030-12-31T23:59:59Z", now).is_some());
        assert!(parse_trial_end("tomorrow", now).is_none());
    }
}
