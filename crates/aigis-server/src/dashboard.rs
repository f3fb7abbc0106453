//! The web dashboard: three files compiled into the binary (no CDN, no Node at run time), a
//! page that reads the same API as everyone else, and headers that keep model content inert.
//!
//! The page builds its DOM with `textContent` and attributes only — never from markup — and
//! links only to numeric ids, so a model name, path or message cannot become an element or a
//! link. The Content-Security-Policy below is the second wall: scripts only from this origin
//! (no inline script, no `eval`), no plugins, no frames, no forms posting elsewhere.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// What every response carries.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The dashboard's routes: the page and its two assets.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Adds the security headers to every response (the API's too: a JSON body opened in a tab
/// is a document as well).
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page carries no inline script or style (the policy would block them, so they would
    /// be dead code that someone "fixes" by loosening the policy), and the script never turns
    /// text into markup.
    #[test]
    fn the_page_has_no_inline_code_and_the_script_builds_no_markup() {
        let lower = INDEX_HTML.to_lowercase();
        assert!(lower.contains("<script src=\"/assets/app.js\""));
        assert_eq!(lower.matches("<script").count(), 1, "one script, by source");
        assert!(!lower.contains("<style"));
        for tag in lower.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or_default();
            for attribute in tag.split_whitespace().skip(1) {
                assert!(
                    !attribute.starts_with("on") && !attribute.starts_with("style="),
                    "inline code in <{tag}>"
                );
            }
        }
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "Function(",
            "setAttribute(\"href\"",
            "javascript:",
        ] {
            assert!(!APP_JS.contains(sink), "app.js uses {sink}");
        }
    }
}
