//! Serving the console's page, script and style sheet, embedded in the crate.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, header};

use super::CONSOLE_PATH;
use crate::routes::AppState;

const PAGE: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const STYLE: &str = include_str!("../../console/console.css");

/// Where the page's `<meta name="kelviq-mock-token">` takes the token.
const TOKEN_SLOT: &str = "__KELVIQ_MOCK_TOKEN__";

/// Only the page's own script and style sheet run; nothing is fetched from elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The console's routes: the page and its two assets.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(CONSOLE_PATH, get(page))
        .route(
            "/_console/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT.to_owned()) }),
        )
        .route(
            "/_console/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE.to_owned()) }),
        )
}

async fn page(State(shared): State<AppState>) -> Response {
    let page = PAGE.replacen(TOKEN_SLOT, &escape_html(&shared.token), 1);
    asset("text/html; charset=utf-8", page)
}

fn asset(content_type: &'static str, body: String) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Escapes text for an HTML attribute value or text node.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape_html(r#"a"><script>&'"#),
            "a&quot;&gt;&lt;script&gt;&amp;&#39;"
        );
    }

    #[test]
    fn the_page_has_one_token_slot_and_loads_its_own_assets() {
        assert_eq!(PAGE.matches(TOKEN_SLOT).count(), 1);
        assert!(PAGE.contains(r#"src="/_console/console.js""#));
        assert!(PAGE.contains(r#"href="/_console/console.css""#));
    }
}
