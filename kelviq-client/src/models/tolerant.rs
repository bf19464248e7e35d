//! Deserializers for response fields the official SDK is too strict about
//! (`kelviq-api.md` §8.1.5–6).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A list or object that may be `null` as well as absent: both read as the default (empty).
/// Use with `#[serde(default, deserialize_with = "null_as_default")]`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A field that never fails the response: `null` or a value of another shape reads as the
/// default (`None` for an `Option`). For responses decoded after money has moved, where a
/// surprising detail must not turn a success into an error.
/// Use with `#[serde(default, deserialize_with = "lenient")]`.
pub(crate) fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}
