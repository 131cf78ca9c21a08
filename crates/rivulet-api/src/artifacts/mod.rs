//! Artifact routes: MLflow's proxied artifact service (`/mlflow-artifacts/...`), run and
//! logged-model artifact listings, and the UI's download and upload routes.
//!
//! Storage, path safety and streaming live in `rivulet-artifacts`; this module reads requests,
//! picks the root (the proxy destination, or the root a run's `artifact_uri` maps to) and
//! writes MLflow's responses. Bodies stream in both directions and are never buffered whole,
//! so these routes are exempt from the JSON API's body limit.

mod proxied;
mod runs;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rivulet_artifacts::{ArtifactError, ArtifactPath, Download};
use rivulet_core::{CoreError, ErrorCode};

use crate::error::ApiError;
use crate::AppState;

/// The artifact routes, with absolute paths (both `/api` and `/ajax-api` prefixes).
pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for prefix in ["/api/2.0", "/ajax-api/2.0"] {
        let file = get(proxied::download_artifact).put(proxied::upload_artifact).delete(proxied::delete_artifact);
        router = router
            .route(&format!("{prefix}/mlflow-artifacts/artifacts"), get(proxied::list_artifacts))
            // The bare trailing slash names no file; answered like MLflow (400), not as an unknown route.
            .route(&format!("{prefix}/mlflow-artifacts/artifacts/"), file.clone())
            .route(&format!("{prefix}/mlflow-artifacts/artifacts/{{*path}}"), file)
            .route(&format!("{prefix}/mlflow-artifacts/mpu/create/{{*path}}"), post(proxied::multipart_upload))
            .route(&format!("{prefix}/mlflow-artifacts/mpu/complete/{{*path}}"), post(proxied::multipart_upload))
            .route(&format!("{prefix}/mlflow-artifacts/mpu/abort/{{*path}}"), post(proxied::multipart_upload))
            .route(&format!("{prefix}/mlflow-artifacts/presigned/{{*path}}"), get(proxied::presigned_download))
            .route(&format!("{prefix}/mlflow/artifacts/list"), get(runs::list_run_artifacts))
            .route(&format!("{prefix}/mlflow/logged-models/{{model_id}}/artifacts/directories"), get(runs::list_logged_model_artifacts));
    }
    router
        .route("/get-artifact", get(runs::get_run_artifact))
        .route("/model-versions/get-artifact", get(runs::get_model_version_artifact))
        .route("/ajax-api/2.0/mlflow/upload-artifact", post(runs::upload_run_artifact))
        .route("/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files", get(runs::get_logged_model_artifact))
        // Uploads stream straight to storage; the JSON API's limit must not cap a 2 GiB model.
        .layer(DefaultBodyLimit::disable())
}

impl From<ArtifactError> for ApiError {
    fn from(error: ArtifactError) -> Self {
        let code = match &error {
            ArtifactError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            ArtifactError::InvalidPath(_)
            | ArtifactError::OutsideRoot
            | ArtifactError::IsDirectory(_)
            | ArtifactError::MissingFileName
            | ArtifactError::Conflict(..)
            | ArtifactError::NotServed(_) => ErrorCode::InvalidParameterValue,
            ArtifactError::UploadInterrupted(_) => ErrorCode::BadRequest,
            ArtifactError::ServingDisabled | ArtifactError::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
            // Wrong credentials or a missing bucket are an operator's problem, not a transient one.
            ArtifactError::AccessDenied(_) | ArtifactError::Misconfigured(_) => ErrorCode::InternalError,
        };
        ApiError(CoreError::new(code, error.to_string()))
    }
}

/// Parses a client-supplied artifact path, answering MLflow's `400 Invalid path`.
pub(crate) fn parse_path(raw: &str) -> Result<ArtifactPath, ApiError> {
    ArtifactPath::parse(raw).map_err(|error| ApiError::from(ArtifactError::from(error)))
}

/// The value of `name` in a raw query string, still percent-encoded (only `+` is turned into a
/// space, as form encoding means). [`ArtifactPath::parse`] does the decoding, so bytes that are
/// not UTF-8 are refused instead of being replaced.
pub(crate) fn raw_query_value(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.replace('+', " "))
    })
}

/// RFC 5987 `attr-char`: what may stay unencoded in `filename*=`.
const ATTR_CHAR_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="…"`, plus `filename*=UTF-8''…` when the name is not plain ASCII.
/// Always an attachment: artifacts are user-controlled bytes served from the tracking origin,
/// and must never render in it (stored XSS).
fn content_disposition(name: &str) -> HeaderValue {
    let fallback: String =
        name.chars().map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' }).collect();
    let fallback = if fallback.trim_matches('_').is_empty() { "download".to_string() } else { fallback };
    let value = if fallback == name {
        format!("attachment; filename=\"{fallback}\"")
    } else {
        format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{}", utf8_percent_encode(name, ATTR_CHAR_ENCODE))
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// The media type MLflow's server reports for a file name: `text/plain` for text-like
/// extensions (so the UI can preview them), a few common binary types, else octet-stream.
pub(crate) fn guess_media_type(name: &str) -> &'static str {
    const TEXT: &[&str] = &[
        "txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon", "toml", "yaml", "yml", "xml",
        "json", "js", "py", "py3", "csv", "tsv", "md", "rst", "ipynb",
    ];
    if name == "MLmodel" || name == "MLproject" {
        return "text/plain";
    }
    let Some((_, extension)) = name.rsplit_once('.') else {
        return "application/octet-stream";
    };
    let extension = extension.to_ascii_lowercase();
    if TEXT.contains(&extension.as_str()) {
        return "text/plain";
    }
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "tif" | "tiff" => "image/tiff",
        "ico" => "image/vnd.microsoft.icon",
        "html" | "htm" => "text/html",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        "mp3" => "audio/mpeg",
        "wav" => "audio/x-wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// A streamed file download with MLflow's headers.
pub(crate) fn file_response(download: Download, path: &ArtifactPath) -> Response<Body> {
    let name = path.file_name().unwrap_or("artifact");
    let mut response = Response::new(Body::from_stream(download.body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(guess_media_type(name)));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(download.size));
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(name));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(modified) = download.last_modified {
        if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
            headers.insert(header::LAST_MODIFIED, value);
        }
    }
    if let Some(e_tag) = download.e_tag.as_deref() {
        let quoted = if e_tag.starts_with('"') || e_tag.starts_with("W/") { e_tag.to_string() } else { format!("\"{e_tag}\"") };
        if let Ok(value) = HeaderValue::from_str(&quoted) {
            headers.insert(header::ETAG, value);
        }
    }
    response
}

/// MLflow's list entry: `path` (bare name for the proxy, run-relative for runs), `is_dir`, and
/// `file_size` for files only.
pub(crate) fn file_info(path: &str, entry: &rivulet_artifacts::Entry) -> serde_json::Value {
    let mut info = serde_json::json!({ "path": path, "is_dir": entry.is_dir });
    if let Some(size) = entry.size {
        info["file_size"] = size.into();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_is_always_an_attachment() {
        assert_eq!(content_disposition("model.pkl"), "attachment; filename=\"model.pkl\"");
        assert_eq!(content_disposition("a \"b\".txt"), "attachment; filename=\"a _b_.txt\"; filename*=UTF-8''a%20%22b%22.txt");
        assert_eq!(content_disposition("résumé.txt"), "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt");
        assert_eq!(content_disposition("日本"), "attachment; filename=\"download\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC");
    }

    #[test]
    fn media_types() {
        assert_eq!(guess_media_type("notes.txt"), "text/plain");
        assert_eq!(guess_media_type("MLmodel"), "text/plain");
        assert_eq!(guess_media_type("conda.YAML"), "text/plain");
        assert_eq!(guess_media_type("plot.png"), "image/png");
        assert_eq!(guess_media_type("model.pkl"), "application/octet-stream");
        assert_eq!(guess_media_type("noext"), "application/octet-stream");
    }

    #[test]
    fn raw_query_values_stay_encoded() {
        assert_eq!(raw_query_value(Some("a=1&path=x%2F..%2Fy&b"), "path").as_deref(), Some("x%2F..%2Fy"));
        assert_eq!(raw_query_value(Some("path=a+b"), "path").as_deref(), Some("a b"));
        assert_eq!(raw_query_value(Some("paths=1"), "path"), None);
        assert_eq!(raw_query_value(None, "path"), None);
    }
}
