//! Environments, base URLs, the access token and the environment variables
//! [`Kelviq::from_env`](crate::Kelviq::from_env) reads.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
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

/// The API version in every request path, on both hosts: the `v1` of
/// `https://api.kelviq.com/api/v1/customers/` and `https://edge.api.kelviq.com/api/v1/entitlements`.
///
/// [`ApiVersion::V1`] is the default, as in the official SDK (its `api_version` option).
/// A version this crate has no constant for is [`ApiVersion::new`] or parsed from `v` and
/// its number (`"v3".parse()`); the response types stay those of `v1`, so choose another
/// version only when Kelviq tells you it answers the same way.
///
/// ```
/// use kelviq_client::ApiVersion;
///
/// assert_eq!(ApiVersion::default(), ApiVersion::V1);
/// assert_eq!("v2".parse::<ApiVersion>()?, ApiVersion::V2);
/// assert_eq!(ApiVersion::new(3).to_string(), "v3");
/// assert!("2".parse::<ApiVersion>().is_err());
/// # Ok::<(), kelviq_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiVersion(u32);

impl ApiVersion {
    /// `v1`, the default.
    pub const V1: ApiVersion = ApiVersion(1);
    /// `v2`.
    pub const V2: ApiVersion = ApiVersion(2);

    /// `v<number>`. Versions start at 1: [`KelviqBuilder::build`](crate::KelviqBuilder::build)
    /// refuses `ApiVersion::new(0)` with an [`Error::Config`].
    pub const fn new(number: u32) -> Self {
        ApiVersion(number)
    }

    /// The number after the `v`.
    pub const fn number(self) -> u32 {
        self.0
    }

    /// Refuses `v0`.
    pub(crate) fn check(self) -> Result<Self, Error> {
        if self.0 == 0 {
            Err(Error::Config(
                "the API version v0 does not exist: versions start at v1".to_owned(),
            ))
        } else {
            Ok(self)
        }
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        ApiVersion::V1
    }
}

/// `v` and the number: `v1`, `v2`.
impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl FromStr for ApiVersion {
    type Err = Error;

    /// A lower-case `v` followed by a number from 1 without leading zeros (`v1`, `v2`,
    /// `v10`); surrounding space is ignored. Anything else is an [`Error::Config`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let number = trimmed
            .strip_prefix('v')
            .filter(|digits| {
                !digits.is_empty()
                    && !digits.starts_with('0')
                    && digits.bytes().all(|byte| byte.is_ascii_digit())
            })
            .and_then(|digits| digits.parse::<u32>().ok());
        match number {
            Some(number) => ApiVersion(number).check(),
            None => Err(Error::Config(format!(
                "\"{trimmed}\" is not a Kelviq API version: use v1, v2, ... (a lower-case v and \
                 a number from 1)"
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
///
/// `http` is only accepted for a loopback host (`localhost`, `127.0.0.0/8`, `::1`), where
/// the access token never leaves the machine, unless `allow_insecure_http` is set: on any
/// other host the token would travel in clear text.
pub(crate) fn base_url(name: &str, url: &str, allow_insecure_http: bool) -> Result<String, Error> {
    let trimmed = url.trim().strip_suffix('/').unwrap_or(url.trim());
    let parsed = reqwest::Url::parse(trimmed)
        .map_err(|error| Error::Config(format!("{name} \"{url}\" is not a URL: {error}")))?;
    let Some(host) = parsed.host_str() else {
        return Err(Error::Config(format!(
            "{name} \"{url}\" must be an http or https URL with a host"
        )));
    };
    match parsed.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(host) => {}
        "http" => {
            return Err(Error::Config(format!(
                "{name} uses http:// for the host {host}, which is not a loopback address: \
                 the access token would travel in clear text; use https, or allow it \
                 explicitly with KelviqBuilder::allow_insecure_http(true)"
            )));
        }
        _ => {
            return Err(Error::Config(format!(
                "{name} \"{url}\" must be an http or https URL with a host"
            )));
        }
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Config(format!(
            "{name} \"{url}\" must not have a query or fragment"
        )));
    }
    Ok(trimmed.to_owned())
}

/// `localhost`, `127.0.0.0/8` or `::1` (also as an IPv4-mapped `::ffff:127.x.y.z`), from a
/// parsed URL's host (IP addresses already in canonical form, IPv6 in brackets).
fn is_loopback(host: &str) -> bool {
    if let Some(ipv6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return ipv6.parse::<Ipv6Addr>().is_ok_and(|ip| {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|ip| ip.is_loopback())
        });
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return ip.is_loopback();
    }
    let domain = host.strip_suffix('.').unwrap_or(host);
    domain.eq_ignore_ascii_case("localhost")
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
    fn api_versions() {
        assert_eq!(ApiVersion::default(), ApiVersion::V1);
        assert_eq!(ApiVersion::V2.to_string(), "v2");
        assert_eq!(ApiVersion::new(7).number(), 7);
        for (text, number) in [
            ("v1", 1),
            (" v2 ", 2),
            ("v10", 10),
            ("v4294967295", u32::MAX),
        ] {
            assert_eq!(
                text.parse::<ApiVersion>().unwrap().number(),
                number,
                "{text}"
            );
        }
        for bad in [
            "",
            "v",
            "1",
            "V1",
            "v0",
            "v01",
            "v-1",
            "v+1",
            "v1.0",
            "v1beta",
            "vv1",
            "v 1",
            "v4294967296",
            "/v1",
            "v1/",
        ] {
            let Err(Error::Config(message)) = bad.parse::<ApiVersion>() else {
                panic!("{bad:?} was accepted");
            };
            assert!(message.contains("v1"), "{bad:?}: {message}");
        }
        assert!(ApiVersion::new(0).check().is_err());
        assert!(ApiVersion::new(1).check().is_ok());
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
            base_url("x", "http://127.0.0.1:1/", false).unwrap(),
            "http://127.0.0.1:1"
        );
        assert_eq!(
            base_url("x", "https://a.test/base", false).unwrap(),
            "https://a.test/base"
        );
        assert!(base_url("x", "ftp://a.test", false).is_err());
        assert!(base_url("x", "ftp://a.test", true).is_err());
        assert!(base_url("x", "not a url", false).is_err());
        assert!(base_url("x", "https://a.test/?q=1", false).is_err());
    }

    #[test]
    fn http_is_for_loopback_hosts_only() {
        for url in [
            "http://127.0.0.1:4010",
            "http://127.8.9.10",
            "http://localhost:4010/",
            "http://LOCALHOST.",
            "http://[::1]:4010",
            "http://[::ffff:127.0.0.1]",
        ] {
            assert!(base_url("x", url, false).is_ok(), "{url}");
        }
        for (url, host) in [
            ("http://api.kelviq.com", "api.kelviq.com"),
            ("http://10.0.0.1:8080", "10.0.0.1"),
            ("http://[2001:db8::1]", "[2001:db8::1]"),
            ("http://localhost.evil.test", "localhost.evil.test"),
            ("http://128.0.0.1", "128.0.0.1"),
        ] {
            let Err(Error::Config(message)) = base_url("the API base URL", url, false) else {
                panic!("{url} was accepted");
            };
            assert!(message.contains(host), "{message}");
            assert!(message.contains("allow_insecure_http"), "{message}");
            assert_eq!(base_url("x", url, true).unwrap(), url);
        }
    }
}
