//! Where deliveries go and the secret they are signed with.

use std::fmt;
use std::sync::Arc;

use hmac::digest::Key;
use hmac::{Hmac, KeyInit, Mac};
use http::Uri;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A webhook secret. Its `Debug` prints `***`.
#[derive(Clone)]
pub(crate) struct WebhookSecret(Arc<[u8]>);

impl WebhookSecret {
    pub(crate) fn new(secret: impl AsRef<[u8]>) -> Self {
        WebhookSecret(Arc::from(secret.as_ref()))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `v1,<lower-case hex HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
    pub(crate) fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut mac = keyed_mac(&self.0);
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", hex::encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// HMAC-SHA256 keyed with `secret`, whatever its length: the key block HMAC (RFC 2104,
/// section 2) derives, so that the infallible `KeyInit::new` can be used (a shorter key is
/// zero-padded, a longer one replaced by its SHA-256 digest).
fn keyed_mac(secret: &[u8]) -> HmacSha256 {
    let mut block = Key::<HmacSha256>::default();
    if secret.len() <= block.len() {
        block.iter_mut().zip(secret).for_each(|(b, k)| *b = *k);
    } else {
        let digest = <Sha256 as sha2::Digest>::digest(secret);
        block
            .iter_mut()
            .zip(digest.iter())
            .for_each(|(b, k)| *b = *k);
    }
    <HmacSha256 as KeyInit>::new(&block)
}

/// A checked webhook endpoint: a plain `http://` URL with a host, and a non-empty secret.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) uri: Uri,
    pub(crate) secret: WebhookSecret,
}

impl Endpoint {
    /// Checks `url` and `secret`; the reason they cannot work otherwise.
    pub(crate) fn new(url: &str, secret: WebhookSecret) -> Result<Self, &'static str> {
        if secret.is_empty() {
            return Err("the webhook secret is empty");
        }
        let uri: Uri = url.parse().map_err(|_| "not a valid URL")?;
        if uri.scheme_str() != Some("http") {
            return Err("only http:// URLs are supported (the mock speaks no TLS)");
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err("the URL has no host");
        }
        Ok(Endpoint {
            url: url.to_owned(),
            uri,
            secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_mac_matches_new_from_slice_for_every_key_length() {
        for len in 0..200 {
            let key: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let mut ours = keyed_mac(&key);
            let mut reference = <HmacSha256 as KeyInit>::new_from_slice(&key).unwrap();
            ours.update(b"data");
            reference.update(b"data");
            assert_eq!(
                ours.finalize().into_bytes(),
                reference.finalize().into_bytes()
            );
        }
    }

    #[test]
    fn endpoints_must_be_plain_http_with_a_secret() {
        let secret = WebhookSecret::new("s");
        assert!(Endpoint::new("http://127.0.0.1:1/hooks", secret.clone()).is_ok());
        assert!(Endpoint::new("https://example.com/hooks", secret.clone()).is_err());
        assert!(Endpoint::new("not a url", secret.clone()).is_err());
        assert!(Endpoint::new("/relative", secret).is_err());
        assert!(Endpoint::new("http://127.0.0.1:1/", WebhookSecret::new("")).is_err());
        assert_eq!(format!("{:?}", WebhookSecret::new("whsec_x")), "***");
    }
}
