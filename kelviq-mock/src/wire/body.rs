//! A strict reader of JSON request bodies.
//!
//! Each accessor takes a field by its exact wire name and records a DRF-style message when
//! the field is missing, `null`, of the wrong type or out of range; [`BodyReader::finish`]
//! adds one message per unknown field and fails if anything was recorded. Accessors return
//! a neutral value (empty string, zero, `None`) for a bad field, which the handler never
//! sees because `finish` fails first.

use serde_json::{Map, Value};

use super::error::{ApiError, FieldErrors};

/// One `{identifier, quantity}` item of a `features` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeatureLine {
    pub(crate) identifier: String,
    pub(crate) quantity: i64,
}

/// Reads one JSON object body field by field.
#[derive(Debug)]
pub(crate) struct BodyReader {
    fields: Map<String, Value>,
    errors: FieldErrors,
}

const REQUIRED: &str = "This field is required.";
const NOT_NULL: &str = "This field may not be null.";
const NOT_BLANK: &str = "This field may not be blank.";
const NOT_STRING: &str = "Not a valid string.";
const NOT_INTEGER: &str = "A valid integer is required.";
const NOT_NUMBER: &str = "A valid number is required.";
const NOT_BOOLEAN: &str = "Must be a valid boolean.";

impl BodyReader {
    /// Parses the raw body. An empty body reads as `{}` (DRF does the same); invalid JSON
    /// or anything but an object is a 400.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(BodyReader {
                fields: Map::new(),
                errors: FieldErrors::new(),
            });
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|err| ApiError::bad_request(format!("JSON parse error - {err}")))?;
        match value {
            Value::Object(fields) => Ok(BodyReader {
                fields,
                errors: FieldErrors::new(),
            }),
            other => Err(ApiError::field(
                "non_field_errors",
                format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    type_name(&other)
                ),
            )),
        }
    }

    /// Records an error on `field` (for checks that span fields).
    pub(crate) fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Whether `field` already has an error.
    pub(crate) fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    fn take(&mut self, field: &str, required: bool) -> Option<Value> {
        match self.fields.remove(field) {
            None => {
                if required {
                    self.error(field, REQUIRED);
                }
                None
            }
            Some(Value::Null) => {
                self.error(field, NOT_NULL);
                None
            }
            Some(value) => Some(value),
        }
    }

    fn string(&mut self, field: &str, required: bool, allow_blank: bool) -> Option<String> {
        match self.take(field, required)? {
            Value::String(text) if text.is_empty() && !allow_blank => {
                self.error(field, NOT_BLANK);
                None
            }
            Value::String(text) => Some(text),
            _ => {
                self.error(field, NOT_STRING);
                None
            }
        }
    }

    /// A required, non-blank string.
    pub(crate) fn req_str(&mut self, field: &str) -> String {
        self.string(field, true, false).unwrap_or_default()
    }

    /// A required string that may be empty.
    pub(crate) fn req_str_blank(&mut self, field: &str) -> String {
        self.string(field, true, true).unwrap_or_default()
    }

    /// An optional, non-blank string.
    pub(crate) fn opt_str(&mut self, field: &str) -> Option<String> {
        self.string(field, false, false)
    }

    /// A required string from a closed set (case-sensitive).
    pub(crate) fn req_choice(&mut self, field: &str, choices: &[&str]) -> String {
        self.choice(field, true, choices).unwrap_or_default()
    }

    /// An optional string from a closed set (case-sensitive).
    pub(crate) fn opt_choice(&mut self, field: &str, choices: &[&str]) -> Option<String> {
        self.choice(field, false, choices)
    }

    fn choice(&mut self, field: &str, required: bool, choices: &[&str]) -> Option<String> {
        let value = self.string(field, required, true)?;
        if choices.contains(&value.as_str()) {
            Some(value)
        } else {
            self.error(field, format!("\"{value}\" is not a valid choice."));
            None
        }
    }

    fn integer(&mut self, field: &str, required: bool) -> Option<i64> {
        match self.take(field, required)? {
            Value::Number(number) if number.is_i64() => number.as_i64(),
            _ => {
                self.error(field, NOT_INTEGER);
                None
            }
        }
    }

    /// A required JSON integer (a float such as `5.0` is refused).
    pub(crate) fn req_int(&mut self, field: &str) -> i64 {
        self.integer(field, true).unwrap_or_default()
    }

    /// An optional JSON integer, at least `min`.
    pub(crate) fn opt_int_min(&mut self, field: &str, min: i64) -> Option<i64> {
        self.opt_int_range(field, min, i64::MAX)
    }

    /// An optional JSON integer from `min` to `max`.
    pub(crate) fn opt_int_range(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        let value = self.integer(field, false)?;
        self.in_range(field, value, min, max)
    }

    /// A required JSON integer from `min` to `max`.
    pub(crate) fn req_int_range(&mut self, field: &str, min: i64, max: i64) -> i64 {
        self.integer(field, true)
            .and_then(|value| self.in_range(field, value, min, max))
            .unwrap_or_default()
    }

    fn in_range(&mut self, field: &str, value: i64, min: i64, max: i64) -> Option<i64> {
        if value < min {
            self.error(
                field,
                format!("Ensure this value is greater than or equal to {min}."),
            );
            None
        } else if value > max {
            self.error(
                field,
                format!("Ensure this value is less than or equal to {max}."),
            );
            None
        } else {
            Some(value)
        }
    }

    /// An optional JSON number (integer or float).
    pub(crate) fn opt_number(&mut self, field: &str) -> Option<f64> {
        match self.take(field, false)? {
            Value::Number(number) => number.as_f64(),
            _ => {
                self.error(field, NOT_NUMBER);
                None
            }
        }
    }

    /// An optional JSON number that must be greater than zero.
    pub(crate) fn opt_positive_number(&mut self, field: &str) -> Option<f64> {
        let value = self.opt_number(field)?;
        if value > 0.0 {
            Some(value)
        } else {
            self.error(field, "Ensure this value is greater than 0.");
            None
        }
    }

    /// An optional JSON boolean.
    pub(crate) fn opt_bool(&mut self, field: &str) -> Option<bool> {
        match self.take(field, false)? {
            Value::Bool(flag) => Some(flag),
            _ => {
                self.error(field, NOT_BOOLEAN);
                None
            }
        }
    }

    /// An optional JSON object.
    pub(crate) fn opt_object(&mut self, field: &str) -> Option<Map<String, Value>> {
        match self.take(field, false)? {
            Value::Object(object) => Some(object),
            other => {
                self.error(
                    field,
                    format!(
                        "Expected a dictionary of items but got type \"{}\".",
                        type_name(&other)
                    ),
                );
                None
            }
        }
    }

    /// An optional `features` array of `{"identifier": str, "quantity": int}` objects with
    /// no other keys.
    pub(crate) fn opt_features(&mut self, field: &str) -> Option<Vec<FeatureLine>> {
        let items = match self.take(field, false)? {
            Value::Array(items) => items,
            other => {
                self.error(
                    field,
                    format!(
                        "Expected a list of items but got type \"{}\".",
                        type_name(&other)
                    ),
                );
                return None;
            }
        };
        let mut lines = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let Value::Object(mut item) = item else {
                self.error(field, format!("Item {index}: expected a dictionary."));
                continue;
            };
            let identifier = match item.remove("identifier") {
                Some(Value::String(identifier)) if !identifier.is_empty() => Some(identifier),
                None => {
                    self.error(field, format!("Item {index}: identifier: {REQUIRED}"));
                    None
                }
                Some(_) => {
                    self.error(field, format!("Item {index}: identifier: {NOT_STRING}"));
                    None
                }
            };
            let quantity = match item.remove("quantity") {
                Some(Value::Number(number)) if number.is_i64() => number.as_i64(),
                None => {
                    self.error(field, format!("Item {index}: quantity: {REQUIRED}"));
                    None
                }
                Some(_) => {
                    self.error(field, format!("Item {index}: quantity: {NOT_INTEGER}"));
                    None
                }
            };
            for unknown in item.keys() {
                self.error(field, format!("Item {index}: unknown field \"{unknown}\"."));
            }
            if let (Some(identifier), Some(quantity)) = (identifier, quantity) {
                lines.push(FeatureLine {
                    identifier,
                    quantity,
                });
            }
        }
        Some(lines)
    }

    /// Fails with every recorded error, plus one per field nobody asked for.
    pub(crate) fn finish(mut self) -> Result<(), ApiError> {
        let unknown: Vec<String> = self.fields.keys().cloned().collect();
        for field in unknown {
            self.error(&field, "Unknown field.");
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(result: Result<(), ApiError>) -> FieldErrors {
        match result {
            Err(ApiError::Fields(errors)) => errors,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn reads_valid_fields_and_finishes() {
        let mut body = BodyReader::parse(br#"{"value": 5, "name": "a", "flag": true}"#).unwrap();
        assert_eq!(body.req_int("value"), 5);
        assert_eq!(body.req_str("name"), "a");
        assert_eq!(body.opt_bool("flag"), Some(true));
        assert_eq!(body.opt_str("absent"), None);
        body.finish().unwrap();
    }

    #[test]
    fn reports_missing_null_wrong_type_and_unknown_fields() {
        let mut body =
            BodyReader::parse(br#"{"value": 5.5, "name": null, "customerID": "x"}"#).unwrap();
        body.req_int("value");
        body.opt_str("name");
        body.req_str("customerId");
        let errors = errors(body.finish());
        assert_eq!(errors["value"], [NOT_INTEGER]);
        assert_eq!(errors["name"], [NOT_NULL]);
        assert_eq!(errors["customerId"], [REQUIRED]);
        assert_eq!(errors["customerID"], ["Unknown field."]);
    }

    #[test]
    fn refuses_non_objects_and_invalid_json() {
        assert!(matches!(
            BodyReader::parse(b"[1]"),
            Err(ApiError::Fields(errors)) if errors.contains_key("non_field_errors")
        ));
        assert!(matches!(
            BodyReader::parse(b"{"),
            Err(ApiError::Detail { .. })
        ));
    }

    #[test]
    fn features_are_strict() {
        let mut body = BodyReader::parse(
            br#"{"features": [{"identifier": "seats", "quantity": 2}, {"identifier": "x", "quantity": "2", "extra": 1}]}"#,
        )
        .unwrap();
        let lines = body.opt_features("features").unwrap();
        assert_eq!(
            lines,
            [FeatureLine {
                identifier: "seats".into(),
                quantity: 2
            }]
        );
        assert_eq!(errors(body.finish())["features"].len(), 2);
    }

    #[test]
    fn ranges_name_the_bound_that_was_crossed() {
        let mut body = BodyReader::parse(br#"{"low": 0, "high": 600, "fine": 503}"#).unwrap();
        assert_eq!(body.req_int_range("fine", 400, 599), 503);
        body.req_int_range("low", 1, 10);
        body.opt_int_range("high", 400, 599);
        body.req_int_range("absent", 1, 10);
        let errors = errors(body.finish());
        assert_eq!(
            errors["low"],
            ["Ensure this value is greater than or equal to 1."]
        );
        assert_eq!(
            errors["high"],
            ["Ensure this value is less than or equal to 599."]
        );
        assert_eq!(errors["absent"], [REQUIRED]);
    }

    #[test]
    fn choices_are_case_sensitive() {
        let mut body = BodyReader::parse(br#"{"behaviour": "delta"}"#).unwrap();
        body.req_choice("behaviour", &["SET", "DELTA"]);
        assert_eq!(
            errors(body.finish())["behaviour"],
            ["\"delta\" is not a valid choice."]
        );
    }
}
