//! Environments, base URLs, the access token and the environment variables
//! [`Kelviq::from_env`](crate::Kelviq::from_env) reads.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A Kelviq environment: which hosts the client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Environment {
    /// `https://api.kelviq.com`, edge `https://edge.api.kelviq.com`.
    Production,
    /// `https://stagingapi.kelviq.com`, edge `https://edge.stagingapi.kelviq.com`.
    Staging,
    /// `https://sandboxapi.kelviq.com`, edge `https://edge.sandboxapi.kelviq.com`.
    ///
    /// The default: a client that was not told otherwise never moves real money. (The
    /// Python SDK's client defaults to production while its environment helper defaults
    /// to sandbox; this crate picks sandbox for both.)
    #[default]
    Sandbox,
}

impl Environment {
    /// The API base URL (no trailing slash).
    pub fn api_url(self) -> &'static str {
        match self {
            Environment::Production => "https://api.kelviq.com",
            Environment::Staging => "https://stagingapi.kelviq.com",
            Environment::Sandbox => "https://sandboxapi.kelviq.com",
        }
    }

    /// The edge base URL, used for entitlements (no trailing slash).
    pub fn edge_url(self) -> &'static str {
        match self {
            Environment::Production => "https://edge.api.kelviq.com",
            Environment::Staging => "https://edge.stagingapi.kelviq.com",
            Environment::Sandbox => "https://edge.sandboxapi.kelviq.com",
        }
    }

    /// The name [`FromStr`] accepts for this environment.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::Sandbox => "sandbox",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = Error;

    /// `production` (or `prod`), `staging`, `sandbox`; case and surrounding space are
    /// ignored. Anything else is an error — never a silent fallback to production.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "production" | "prod" => Ok(Environment::Production),
            "staging" => Ok(Environment::Staging),
            "sandbox" => Ok(Environment::Sandbox),
            _ => Err(Error::Config(format!(
                "unknown Kelviq environment \"{}\": use production, staging or sandbox",
                text.trim()
            ))),
        }
    }
}

/// The variable holding the access token.
pub const ENV_API_KEY: &str = "KELVIQ_API_KEY";
/// The variable naming the environment (`production`, `staging`, `sandbox`; unset or empty
/// means sandbox).
pub const ENV_ENVIRONMENT: &str = "KELVIQ_ENV";
/// The variable overriding the API base URL.
pub const ENV_BASE_URL: &str = "KELVIQ_BASE_URL";
/// The variable overriding the edge base URL.
pub const ENV_EDGE_URL: &str = "KELVIQ_EDGE_URL";

/// The access token. Its `Debug` prints `***`; it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AccessToken(String);

impl AccessToken {
    /// Checks that the token can travel in a header: non-empty, visible ASCII only.
    pub(crate) fn new(token: String) -> Result<Self, Error> {
        if token.is_empty() {
            return Err(Error::Config("the access token is empty".to_owned()));
        }
        if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(Error::Config(
                "the access token contains spaces, control or non-ASCII characters".to_owned(),
            ));
        }
        Ok(AccessToken(token))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Checks a base URL override: `http` or `https`, a host, no query or fragment. One
/// trailing `/` is dropped.
pub(crate) fn base_url(name: &str, url: &str) -> Result<String, Error> {
    let trimmed = url.trim().strip_suffix('/').unwrap_or(url.trim());
    let parsed = reqwest::Url::parse(trimmed)
        .map_err(|error| Error::Config(format!("{name} \"{url}\" is not a URL: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::Config(format!(
            "{name} \"{url}\" must be an http or https URL with a host"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Config(format!(
            "{name} \"{url}\" must not have a query or fragment"
        )));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names() {
        assert_eq!(
            " Prod ".parse::<Environment>().unwrap(),
            Environment::Production
        );
        assert_eq!(
            "SANDBOX".parse::<Environment>().unwrap(),
            Environment::Sandbox
        );
        assert_eq!(
            "staging".parse::<Environment>().unwrap(),
            Environment::Staging
        );
        let error = "live".parse::<Environment>().unwrap_err().to_string();
        assert!(error.contains("\"live\""), "{error}");
    }

    #[test]
    fn tokens_are_checked_and_hidden() {
        assert!(AccessToken::new(String::new()).is_err());
        assert!(AccessToken::new("a b".to_owned()).is_err());
        assert!(AccessToken::new("a\nb".to_owned()).is_err());
        let token = AccessToken::new("sk_secret".to_owned()).unwrap();
        assert_eq!(format!("{token:?}"), "***");
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("x", "http://127.0.0.1:1/").unwrap(),
            "http://127.0.0.1:1"
        );
        assert_eq!(
            base_url("x", "https://a.test/base").unwrap(),
            "https://a.test/base"
        );
        assert!(base_url("x", "ftp://a.test").is_err());
        assert!(base_url("x", "not a url").is_err());
        assert!(base_url("x", "https://a.test/?q=1").is_err());
    }
}
