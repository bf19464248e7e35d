//! The client's instance name: which running copy of an app sent a request, in the
//! [`INSTANCE_HEADER`] of every request ([`KelviqBuilder::instance_name`]).
//!
//! Kelviq documents no such header; the service ignores headers it does not know, and a
//! fake (`kelviq-mock`'s journal and console) shows it beside each request, so that the
//! requests of several instances of one app can be told apart.
//!
//! [`KelviqBuilder::instance_name`]: crate::KelviqBuilder::instance_name

use http::HeaderValue;

use crate::error::{Error, Result};

/// The header naming the client instance on every request to Kelviq.
pub const INSTANCE_HEADER: &str = "x-kelviq-client-instance";

/// The longest instance name [`KelviqBuilder::instance_name`](crate::KelviqBuilder::instance_name)
/// accepts, in bytes.
pub const MAX_INSTANCE_NAME_LEN: usize = 128;

/// The name used when no host name can be read.
const FALLBACK_HOST: &str = "kelviq";

/// The instance name as a header value, or why it cannot be one: 1 to
/// [`MAX_INSTANCE_NAME_LEN`] bytes of visible ASCII (letters, digits, punctuation; no
/// space, no control character).
pub(crate) fn header_value(name: &str) -> Result<HeaderValue> {
    if name.is_empty() || name.len() > MAX_INSTANCE_NAME_LEN {
        return Err(Error::Config(format!(
            "instance_name must be 1 to {MAX_INSTANCE_NAME_LEN} bytes, not {}",
            name.len()
        )));
    }
    if !name.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(Error::Config(
            "instance_name must be visible ASCII: letters, digits and punctuation, no space \
             or control character"
                .to_owned(),
        ));
    }
    HeaderValue::from_str(name)
        .map_err(|_| Error::Config("instance_name is not a valid header value".to_owned()))
}

/// `<process id>@<host name>` (the JVM's convention), the host name read from
/// `/proc/sys/kernel/hostname`, else `HOSTNAME`, else `kelviq`; characters a header
/// cannot carry are left out, and a long host name is cut to fit
/// [`MAX_INSTANCE_NAME_LEN`].
pub(crate) fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|host| clean_host(&host))
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .and_then(|host| clean_host(&host))
        })
        .unwrap_or_else(|| FALLBACK_HOST.to_owned());
    with_pid(std::process::id(), &host)
}

/// `<pid>@<host>`, the host cut so that the whole fits [`MAX_INSTANCE_NAME_LEN`].
fn with_pid(pid: u32, host: &str) -> String {
    let prefix = format!("{pid}@");
    let room = MAX_INSTANCE_NAME_LEN.saturating_sub(prefix.len());
    // `host` is ASCII (see `clean_host`), so any byte index is a character boundary.
    let host = host.get(..room.min(host.len())).unwrap_or(FALLBACK_HOST);
    format!("{prefix}{host}")
}

/// The host name's visible ASCII characters, `None` when none is left.
fn clean_host(host: &str) -> Option<String> {
    let host: String = host.chars().filter(char::is_ascii_graphic).collect();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_visible_ascii_of_bounded_length() {
        for good in [
            "web-1",
            "4242@web-1.eu-west",
            "a",
            &"x".repeat(MAX_INSTANCE_NAME_LEN),
        ] {
            assert_eq!(header_value(good).unwrap(), good);
        }
        for bad in [
            "",
            "web 1",
            "web\n1",
            "wéb",
            "tab\there",
            &"x".repeat(MAX_INSTANCE_NAME_LEN + 1),
        ] {
            let error = header_value(bad).unwrap_err();
            assert!(
                matches!(&error, Error::Config(message) if message.contains("instance_name")),
                "{bad:?}: {error:?}"
            );
        }
    }

    #[test]
    fn the_default_is_the_process_id_at_a_valid_host_name() {
        let name = default_name();
        assert!(
            name.starts_with(&format!("{}@", std::process::id())),
            "{name}"
        );
        assert!(header_value(&name).is_ok(), "{name}");
    }

    #[test]
    fn host_names_are_cleaned_and_cut_to_fit() {
        assert_eq!(clean_host("web-1\n").as_deref(), Some("web-1"));
        assert_eq!(clean_host("hôte 7").as_deref(), Some("hte7"));
        assert_eq!(clean_host(" \n"), None);
        let long = with_pid(u32::MAX, &"h".repeat(500));
        assert_eq!(long.len(), MAX_INSTANCE_NAME_LEN);
        assert!(long.starts_with("4294967295@hhh"));
        assert!(header_value(&long).is_ok());
    }
}
