//! The embedded stylesheet and script, served with a content hash so browsers cache them
//! until the binary changes.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../static/app.css");
const JS: &str = include_str!("../static/app.js");

fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "app.css" => Some((CSS, "text/css; charset=utf-8")),
        "app.js" => Some((JS, "text/javascript; charset=utf-8")),
        _ => None,
    }
}

/// FNV-1a over both files: changes whenever either does.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in CSS.bytes().chain(JS.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{:x}", hash & 0xffff_ffff)
    })
}

/// The path (below the prefix) of an asset, versioned.
pub fn url(name: &str) -> String {
    format!("/ui/static/{name}?v={}", version())
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match asset(&name) {
        Some((body, content_type)) => (
            [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
