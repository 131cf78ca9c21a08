//! A run's artifacts: directory listings and previews of text, JSON and images, read through
//! the same artifact storage the REST API serves (`rivulet-artifacts`).

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use futures::StreamExt;
use rivulet_api::AppState;
use rivulet_artifacts::{ArtifactPath, ArtifactStore};
use serde::Deserialize;

use crate::html::{self, enc, esc, query, Ctx};
use crate::run::run_crumbs;
use crate::runs::run_name;
use crate::{ctx, json_view, OrPage, PageResult};

/// Bytes of a file read for its preview.
const PREVIEW_BYTES: usize = 256 * 1024;

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "svg", "webp", "bmp"];
const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "log", "json", "jsonl", "yaml", "yml", "md", "csv", "tsv", "py", "toml", "ini", "cfg", "html", "xml", "sh", "sql", "mlmodel",
];

#[derive(Debug, Default, Deserialize)]
pub struct ArtifactQuery {
    #[serde(default)]
    path: String,
    #[serde(default)]
    file: String,
}

fn extension(name: &str) -> String {
    name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_else(|| name.to_ascii_lowercase())
}

/// The API's download route for a run artifact (the browser fetches images and downloads there).
fn download_url(ctx: &Ctx, run_id: &str, path: &str) -> String {
    ctx.url(&format!("/get-artifact?path={}&run_uuid={}", enc(path), enc(run_id)))
}

/// Up to `PREVIEW_BYTES` of a file, and whether it was cut.
async fn head_of(store: &ArtifactStore, path: &ArtifactPath) -> Result<(Vec<u8>, bool), String> {
    let download = store.open(path).await.map_err(|e| e.to_string())?;
    let mut buffer = Vec::with_capacity(PREVIEW_BYTES.min(download.size as usize));
    let mut body = download.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        buffer.extend_from_slice(&chunk);
        if buffer.len() >= PREVIEW_BYTES {
            buffer.truncate(PREVIEW_BYTES);
            return Ok((buffer, true));
        }
    }
    Ok((buffer, false))
}

fn breadcrumbs(ctx: &Ctx, run_id: &str, path: &str) -> String {
    let base = ctx.url(&format!("/ui/runs/{run_id}/artifacts"));
    let mut out = format!("<nav class=\"pathbar\" aria-label=\"Artifact path\"><a href=\"{}\">artifacts</a>", esc(&base));
    let mut so_far = String::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(segment);
        let _ = write!(out, " / <a href=\"{}{}\">{}</a>", esc(&base), esc(&query(&[("path", &so_far)])), esc(segment));
    }
    out.push_str("</nav>");
    out
}

async fn preview(ctx: &Ctx, run_id: &str, store: &ArtifactStore, full: &ArtifactPath, relative: &str) -> String {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    let ext = extension(name);
    let download = download_url(ctx, run_id, relative);
    let mut out = format!(
        "<div class=\"panel-head\"><h2 class=\"mono\">{}</h2><a class=\"button\" href=\"{}\" download>Download</a></div>",
        esc(name),
        esc(&download)
    );
    if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        let _ = write!(out, "<img class=\"artifact-image\" src=\"{}\" alt=\"{}\">", esc(&download), esc(name));
        return out;
    }
    match head_of(store, full).await {
        Err(message) => out.push_str(&html::notice("error", &message)),
        Ok((bytes, cut)) => {
            let looks_text = TEXT_EXTENSIONS.contains(&ext.as_str()) || std::str::from_utf8(&bytes[..bytes.len().min(4096)]).is_ok();
            if !looks_text || bytes.contains(&0) {
                out.push_str("<p class=\"muted\">No preview for this file type; download it instead.</p>");
                return out;
            }
            let text = String::from_utf8_lossy(&bytes);
            if ext == "json" && !cut {
                out.push_str(&json_view::pretty_text(&text));
            } else {
                let _ = write!(out, "<pre class=\"text\">{}</pre>", esc(&text));
            }
            if cut {
                out.push_str(&html::notice("info", "Preview shows the first 256 KiB; download the file for the rest."));
            }
        }
    }
    out
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(run_id): Path<String>, Query(params): Query<ArtifactQuery>) -> PageResult {
    let ctx = ctx(&state, &headers);
    let run = state.tracking.get_run(&run_id).await.or_page(&ctx)?;
    let experiment_name = state.tracking.get_experiment(run.info.experiment_id).await.map(|e| e.name).unwrap_or_default();
    let crumbs = run_crumbs(&ctx, &run, &experiment_name, Some("Artifacts"));
    let showing_file = !params.file.is_empty();
    let relative = if showing_file { params.file.clone() } else { params.path.clone() };
    let dir_of_file = relative.rsplit_once('/').map_or(String::new(), |(dir, _)| dir.to_string());
    let mut body = format!("<div class=\"head\"><h1>Artifacts of {}</h1></div>", esc(&run_name(&run)));
    body.push_str(&breadcrumbs(&ctx, &run_id, if showing_file { &relative } else { &params.path }));

    let root_uri = run.info.artifact_uri.clone().unwrap_or_default();
    let resolved = state.settings.artifacts.resolve(&root_uri);
    let (store, base) = match resolved {
        Ok(found) => found,
        Err(error) => {
            body.push_str(&html::notice("error", &format!("Artifacts at '{root_uri}' cannot be read here: {error}")));
            return Ok(html::page(&ctx, "Artifacts", &crumbs, &body));
        }
    };
    let relative_path = match ArtifactPath::parse_optional(Some(&relative)) {
        Ok(path) => path,
        Err(error) => {
            body.push_str(&html::notice("error", &error.to_string()));
            return Ok(html::page(&ctx, "Artifacts", &crumbs, &body));
        }
    };
    let listing_dir = if showing_file { dir_of_file.clone() } else { relative.clone() };
    let listing_path = ArtifactPath::parse_optional(Some(&listing_dir)).unwrap_or_else(|_| ArtifactPath::root());
    let entries = store.list(&base.join(&listing_path)).await.unwrap_or_default();
    body.push_str("<div class=\"artifacts\"><ul class=\"files\" aria-label=\"Files\">");
    if entries.is_empty() {
        body.push_str("<li class=\"muted\">No artifacts here.</li>");
    }
    let page_url = ctx.url(&format!("/ui/runs/{run_id}/artifacts"));
    for entry in &entries {
        let child = if listing_dir.is_empty() { entry.name.clone() } else { format!("{listing_dir}/{}", entry.name) };
        let (href, icon) = if entry.is_dir {
            (format!("{page_url}{}", query(&[("path", &child)])), "📁")
        } else {
            (format!("{page_url}{}", query(&[("file", &child)])), "📄")
        };
        let current = if showing_file && child == relative { " aria-current=\"true\" class=\"on\"" } else { "" };
        let size = entry.size.map(|s| format!(" <span class=\"muted\">{}</span>", human_size(s))).unwrap_or_default();
        let _ = write!(body, "<li><a href=\"{}\"{current}><span aria-hidden=\"true\">{icon}</span> {}</a>{size}</li>", esc(&href), esc(&entry.name));
    }
    body.push_str("</ul><div class=\"preview\">");
    if showing_file {
        body.push_str(&preview(&ctx, &run_id, store, &base.join(&relative_path), &relative).await);
    } else {
        body.push_str("<p class=\"muted\">Select a file to preview it. Text, JSON and images are shown inline.</p>");
    }
    body.push_str("</div></div>");
    Ok(html::page(&ctx, "Artifacts", &crumbs, &body))
}

fn human_size(bytes: u64) -> String {
    match bytes {
        0..=1023 => format!("{bytes} B"),
        1024..=1_048_575 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}
