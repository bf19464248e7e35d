//! A strict reader of query strings: exact snake_case names, no duplicates, no unknown
//! parameters.

use std::collections::BTreeMap;

use super::error::{ApiError, FieldErrors};
use super::page::PageParams;

/// Reads a query string parameter by parameter.
#[derive(Debug)]
pub(crate) struct QueryReader {
    params: BTreeMap<String, String>,
    errors: FieldErrors,
}

impl QueryReader {
    /// Parses a raw query string (`None` when the URL has none). A repeated name is a 400.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut params = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if params
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(ApiError::field(
                    &name,
                    "This query parameter may appear only once.",
                ));
            }
        }
        Ok(QueryReader {
            params,
            errors: FieldErrors::new(),
        })
    }

    fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors
            .entry(name.to_owned())
            .or_default()
            .push(message.into());
    }

    /// An optional parameter, taken as text.
    pub(crate) fn opt_str(&mut self, name: &str) -> Option<String> {
        self.params.remove(name)
    }

    /// A required, non-empty parameter.
    pub(crate) fn req_str(&mut self, name: &str) -> String {
        match self.params.remove(name) {
            Some(value) if !value.is_empty() => value,
            Some(_) => {
                self.error(name, "This field may not be blank.");
                String::new()
            }
            None => {
                self.error(name, "This field is required.");
                String::new()
            }
        }
    }

    /// An optional parameter from a closed set.
    pub(crate) fn opt_choice(&mut self, name: &str, choices: &[&str]) -> Option<String> {
        let value = self.params.remove(name)?;
        if choices.contains(&value.as_str()) {
            Some(value)
        } else {
            self.error(
                name,
                format!("Select a valid choice. {value} is not one of the available choices."),
            );
            None
        }
    }

    /// An optional `YYYY-MM-DD` date, returned as given.
    pub(crate) fn opt_date(&mut self, name: &str) -> Option<jiff::civil::Date> {
        let value = self.params.remove(name)?;
        match super::time::parse_date(&value) {
            Some(date) => Some(date),
            None => {
                self.error(name, "Enter a valid date.");
                None
            }
        }
    }

    /// An optional date-time bound: `YYYY-MM-DD` (the whole UTC day) or a timestamp with a
    /// `Z` or an offset, as django-filter's `IsoDateTimeFilter` reads it (stricter: a
    /// date-time without an offset is refused rather than read in the server's zone).
    pub(crate) fn opt_day_or_instant(&mut self, name: &str) -> Option<super::DayOrInstant> {
        let value = self.params.remove(name)?;
        match super::time::parse_day_or_instant(&value) {
            Some(bound) => Some(bound),
            None => {
                self.error(name, "Enter a valid date/time.");
                None
            }
        }
    }

    /// The `page` and `page_size` parameters. A `page` that is not a positive integer is
    /// DRF's 404 `Invalid page.`; a bad `page_size` is a 400.
    pub(crate) fn page(&mut self) -> Result<PageParams, ApiError> {
        let page = match self.params.remove("page") {
            None => 1,
            Some(raw) => match raw.parse::<usize>() {
                Ok(page) if page >= 1 => page,
                _ => return Err(PageParams::invalid_page()),
            },
        };
        let page_size = match self.params.remove("page_size") {
            None => PageParams::DEFAULT_PAGE_SIZE,
            Some(raw) => match raw.parse::<usize>() {
                Ok(size) if (1..=PageParams::MAX_PAGE_SIZE).contains(&size) => size,
                _ => {
                    self.error(
                        "page_size",
                        format!(
                            "Ensure this value is an integer from 1 to {}.",
                            PageParams::MAX_PAGE_SIZE
                        ),
                    );
                    PageParams::DEFAULT_PAGE_SIZE
                }
            },
        };
        Ok(PageParams { page, page_size })
    }

    /// Fails with every recorded error, plus one per parameter nobody asked for.
    pub(crate) fn finish(mut self) -> Result<(), ApiError> {
        let unknown: Vec<String> = self.params.keys().cloned().collect();
        for name in unknown {
            self.error(&name, "Unknown query parameter.");
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }
}
