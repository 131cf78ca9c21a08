//! Artifact URIs: which configured store serves a run's or model's artifact root, and where.
//!
//! MLflow stores an artifact URI per experiment, run, logged model and trace
//! (`mlflow-artifacts:/3/<run>/artifacts`, `s3://bucket/prefix/3/<run>/artifacts`,
//! `/srv/mlruns/3/...`). The server only ever touches storage it was configured with: proxied
//! `mlflow-artifacts:` roots map into `--artifacts-destination`, and plain storage URIs are
//! served only when they lie under a configured root. A client-chosen location elsewhere (say
//! `file:///etc`) is never opened, which closes the CVE-2023-1177 family by construction.

use crate::error::ArtifactError;
use crate::path::ArtifactPath;
use crate::store::ArtifactStore;

/// The route every proxied artifact URL is anchored at (`http(s)://host/…/<anchor><path>`).
const PROXY_HTTP_ANCHOR: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Where an artifact URI points, before choosing a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactLocation {
    /// Inside the proxied artifact service, at this path below its destination.
    Proxied(ArtifactPath),
    /// A storage URI (`s3://…`, `file://…`, a local path) to match against configured roots.
    Storage(String),
}

impl ArtifactLocation {
    /// Classifies an artifact URI as MLflow's server does: `mlflow-artifacts:/p`,
    /// `mlflow-artifacts://host/p` and `http(s)://host[/prefix]/api/2.0/mlflow-artifacts/artifacts/p`
    /// are proxied; everything else is storage.
    pub fn parse(uri: &str) -> Result<ArtifactLocation, ArtifactError> {
        let uri = uri.trim();
        if let Some(rest) = strip_scheme(uri, "mlflow-artifacts") {
            let path = match rest.strip_prefix("//") {
                // `mlflow-artifacts://host:port/p`: the authority names a server, not a path.
                Some(authority_and_path) => authority_and_path.find('/').map_or("", |i| &authority_and_path[i..]),
                None => rest,
            };
            return Ok(ArtifactLocation::Proxied(ArtifactPath::parse(path.trim_start_matches('/'))?));
        }
        for scheme in ["http", "https"] {
            if let Some(rest) = strip_scheme(uri, scheme) {
                let after_authority = rest.strip_prefix("//").and_then(|r| r.find('/').map(|i| &r[i..])).unwrap_or("");
                if let Some(index) = after_authority.find(PROXY_HTTP_ANCHOR) {
                    let tail = &after_authority[index + PROXY_HTTP_ANCHOR.len()..];
                    if tail.is_empty() || tail.starts_with('/') {
                        return Ok(ArtifactLocation::Proxied(ArtifactPath::parse(tail.trim_start_matches('/'))?));
                    }
                }
            }
        }
        Ok(ArtifactLocation::Storage(uri.to_string()))
    }
}

fn strip_scheme<'a>(uri: &'a str, scheme: &str) -> Option<&'a str> {
    let (head, rest) = uri.split_once(':')?;
    head.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// A local path as artifact URIs spell it: `file:///a/b` and `file:/a/b` are `/a/b`.
pub(crate) fn local_path_of(uri: &str) -> Option<&str> {
    if let Some(rest) = strip_scheme(uri, "file") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        // `file://host/path` names another machine's file; only the empty host is local.
        return path.starts_with('/').then_some(path);
    }
    uri.starts_with('/').then_some(uri)
}

/// `uri` relative to `root` when it lies at or below it (segment-wise, so `/a/bc` is not under
/// `/a/b`). The remainder is validated like any client path.
pub(crate) fn relative_to(root: &str, uri: &str) -> Option<Result<ArtifactPath, ArtifactError>> {
    let root = root.trim_end_matches('/');
    let rest = uri.strip_prefix(root)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(ArtifactPath::parse(rest.trim_start_matches('/')).map_err(ArtifactError::from))
}

/// The configured artifact storage of a server: the proxied destination (when serving
/// artifacts) and the roots it may read directly (the default artifact root when that is
/// storage rather than `mlflow-artifacts:/`).
#[derive(Debug, Clone, Default)]
pub struct Artifacts {
    proxy: Option<ArtifactStore>,
    direct: Vec<ArtifactStore>,
}

impl Artifacts {
    pub fn new(proxy: Option<ArtifactStore>, direct: Vec<ArtifactStore>) -> Artifacts {
        Artifacts { proxy, direct }
    }

    /// No artifact storage at all: proxied routes answer "serving disabled".
    pub fn disabled() -> Artifacts {
        Artifacts::default()
    }

    /// The `--artifacts-destination` store, or `ServingDisabled` under `--no-serve-artifacts`.
    pub fn proxy(&self) -> Result<&ArtifactStore, ArtifactError> {
        self.proxy.as_ref().ok_or(ArtifactError::ServingDisabled)
    }

    pub fn is_serving(&self) -> bool {
        self.proxy.is_some()
    }

    /// Checks every configured root; the failures, for start-up warnings.
    pub async fn check(&self) -> Vec<(String, ArtifactError)> {
        let mut failures = Vec::new();
        for store in self.proxy.iter().chain(&self.direct) {
            if let Err(error) = store.check().await {
                failures.push((store.uri().to_string(), error));
            }
        }
        failures
    }

    /// The store and base path serving an artifact root URI (a run's `artifact_uri`, a logged
    /// model's `artifact_location`, a trace's `mlflow.artifactLocation`).
    pub fn resolve(&self, root_uri: &str) -> Result<(&ArtifactStore, ArtifactPath), ArtifactError> {
        match ArtifactLocation::parse(root_uri)? {
            ArtifactLocation::Proxied(path) => Ok((self.proxy()?, path)),
            ArtifactLocation::Storage(uri) => {
                for store in self.proxy.iter().chain(&self.direct) {
                    if let Some(relative) = store.relative_of(&uri) {
                        return Ok((store, relative?));
                    }
                }
                Err(ArtifactError::NotServed(root_uri.to_string()))
            }
        }
    }
}
