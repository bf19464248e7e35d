//! The paginated list envelope: `{count, next, previous, results}`.

use serde::{Deserialize, Serialize};

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// How many objects the whole list has.
    pub count: u64,
    /// The URL of the next page, if any.
    #[serde(default)]
    pub next: Option<String>,
    /// The URL of the previous page, if any.
    #[serde(default)]
    pub previous: Option<String>,
    /// The objects on this page.
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

impl<T> Page<T> {
    /// Whether another page follows.
    pub fn has_next(&self) -> bool {
        self.next.is_some()
    }
}

/// A `{"identifier": ..., "quantity": ...}` item of a `features` list (checkout,
/// subscriptions, charges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeatureQuantity {
    /// The feature identifier.
    pub identifier: String,
    /// How many units.
    pub quantity: i64,
}

impl FeatureQuantity {
    /// `quantity` units of `identifier`.
    pub fn new(identifier: impl Into<String>, quantity: i64) -> Self {
        FeatureQuantity {
            identifier: identifier.into(),
            quantity,
        }
    }
}
