//! The mock's own reading of the wire: strict request readers, Django REST Framework error
//! bodies, pagination and timestamp formats. Written from `kelviq-api.md`, independently of
//! `kelviq-client`, so that a casing slip on either side shows up as a failing test.

mod body;
mod error;
mod page;
mod query;
mod time;

pub(crate) use body::{BodyReader, FeatureLine};
pub(crate) use error::{ApiError, detail_body};
pub(crate) use page::paginate;
pub(crate) use query::QueryReader;
pub(crate) use time::{
    DayOrInstant, format_date, format_datetime, format_event_timestamp, format_reset_at,
    format_reset_instant, parse_date, parse_event_timestamp, parse_trial_end, today,
};
