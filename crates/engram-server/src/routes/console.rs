//! The web console (docs/CONSOLE.md): static files compiled into the
//! binary, so `/ui` needs no separate server, no build step and no
//! download. The page does everything through the public REST API with
//! the key the user pastes; these routes serve files and nothing else.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use engram_core::Code;

use crate::extract::Path;
use crate::problem::{ApiError, Problem};

/// Every file of `crates/engram-server/ui/` (a test checks the list is
/// complete), flat, so one path segment names each.
const FILES: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../../ui/index.html")),
    ("console.css", include_bytes!("../../ui/console.css")),
    ("app.js", include_bytes!("../../ui/app.js")),
    ("api.js", include_bytes!("../../ui/api.js")),
    ("dom.js", include_bytes!("../../ui/dom.js")),
    ("signin.js", include_bytes!("../../ui/signin.js")),
    ("memories.js", include_bytes!("../../ui/memories.js")),
    ("playground.js", include_bytes!("../../ui/playground.js")),
    (
        "conversations.js",
        include_bytes!("../../ui/conversations.js"),
    ),
    ("usage.js", include_bytes!("../../ui/usage.js")),
    ("admin.js", include_bytes!("../../ui/admin.js")),
    ("health.js", include_bytes!("../../ui/health.js")),
    ("favicon.svg", include_bytes!("../../ui/favicon.svg")),
];

/// No inline script or style and no third party: the page runs only the
/// files above and talks only to this server, so an injected string can
/// neither run nor send the key elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    /// Content hash: the files change only with the binary, so a browser
    /// revalidates cheaply (304) and never runs a stale page after an upgrade.
    etag: HeaderValue,
}

fn assets() -> &'static [(&'static str, Asset)] {
    static ASSETS: OnceLock<Vec<(&'static str, Asset)>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, body)| {
                let mut h = DefaultHasher::new();
                body.hash(&mut h);
                let etag = HeaderValue::from_str(&format!("\"{:016x}\"", h.finish()))
                    .expect("hex is a valid header value");
                let content_type = match name.rsplit_once('.').map(|(_, ext)| ext) {
                    Some("html") => "text/html; charset=utf-8",
                    Some("css") => "text/css; charset=utf-8",
                    Some("js") => "text/javascript; charset=utf-8",
                    Some("svg") => "image/svg+xml",
                    _ => "application/octet-stream",
                };
                (
                    name,
                    Asset {
                        body,
                        content_type,
                        etag,
                    },
                )
            })
            .collect()
    })
}

fn serve(name: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let (_, asset) = assets().iter().find(|(n, _)| *n == name).ok_or_else(|| {
        ApiError::new(
            Code::RouteNotFound,
            format!("the console has no file {name:?}; open /ui"),
        )
    })?;
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == asset.etag.as_bytes());
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(resp)
}

/// The console's page; sign in with a tenant or the admin key.
#[utoipa::path(get, path = "/ui", tag = "console",
    responses((status = 200, description = "the page", content_type = "text/html"),
        (status = 304, description = "the copy named by If-None-Match is current")))]
pub async fn index(headers: HeaderMap) -> Result<Response, ApiError> {
    serve("index.html", &headers)
}

/// The console's page again, for the address typed with a final slash.
#[utoipa::path(get, path = "/ui/", tag = "console",
    responses((status = 200, description = "the page", content_type = "text/html"),
        (status = 304, description = "the copy named by If-None-Match is current")))]
pub async fn index_slash(headers: HeaderMap) -> Result<Response, ApiError> {
    serve("index.html", &headers)
}

/// A script, style sheet or image of the console.
#[utoipa::path(get, path = "/ui/{file}", tag = "console", params(("file" = String, Path)),
    responses((status = 200, description = "the file",
            content((String = "text/javascript"), (String = "text/css"), (String = "text/html"),
                (String = "image/svg+xml"))),
        (status = 304, description = "the copy named by If-None-Match is current"),
        (status = 404, body = Problem)))]
pub async fn file(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    serve(&name, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file added to `ui/` but not to [`FILES`] would be a 404 in the
    /// browser only.
    #[test]
    fn every_ui_file_is_served() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/ui");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut served: Vec<String> = FILES.iter().map(|(n, _)| n.to_string()).collect();
        served.sort();
        assert_eq!(on_disk, served);
    }
}
