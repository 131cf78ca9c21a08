//! The artifact error: what went wrong, in terms the API maps to MLflow's error codes.

use crate::path::{ArtifactPath, InvalidPath};

/// Every artifact failure. Messages are safe to show to callers: storage details (bucket
/// errors, OS errors) are logged where they happen and summarised here.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A path failed [`ArtifactPath::parse`].
    #[error("Invalid path")]
    InvalidPath(#[from] InvalidPath),
    /// A local path resolves (through a symlink) to somewhere outside the artifact root.
    #[error("Invalid path: resolved path is outside the artifact directory")]
    OutsideRoot,
    #[error("No such artifact: '{0}'")]
    NotFound(ArtifactPath),
    /// A file was asked for and a directory found.
    #[error("Artifact path refers to a directory, not a file: '{0}'")]
    IsDirectory(ArtifactPath),
    /// An upload names no file (`dir/`, or the root).
    #[error("Artifact path must include a filename (cannot end with '/').")]
    MissingFileName,
    /// An upload would need a directory where a file is, or the reverse.
    #[error("Cannot write artifact '{0}': {1}")]
    Conflict(ArtifactPath, &'static str),
    /// The request body ended early or failed while streaming; nothing was published.
    #[error("Upload interrupted: {0}")]
    UploadInterrupted(String),
    /// An artifact root that no configured storage serves (e.g. a client-chosen location).
    #[error("The artifact location '{0}' is not served by this server; its artifacts can only be read from that storage directly")]
    NotServed(String),
    /// `mlflow-artifacts:` locations while proxied artifact serving is off.
    #[error("Artifact serving is disabled. Run the server with --serve-artifacts to enable it.")]
    ServingDisabled,
    /// The configured storage itself is missing (no such bucket); an operator must fix it.
    #[error("Artifact storage is misconfigured: {0}")]
    Misconfigured(String),
    /// The storage refused our credentials or permissions; retrying will not help.
    #[error("Artifact storage refused access: {0}")]
    AccessDenied(String),
    /// Storage failed (network, disk); may succeed when retried.
    #[error("Artifact storage is unavailable: {0}")]
    Unavailable(String),
}

impl ArtifactError {
    /// Maps an object-store failure on `path`, logging what callers are not shown.
    pub(crate) fn from_store(error: object_store::Error, path: &ArtifactPath) -> ArtifactError {
        match error {
            object_store::Error::NotFound { .. } => ArtifactError::NotFound(path.clone()),
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                tracing::warn!(%error, artifact = %path, "artifact storage refused access");
                ArtifactError::AccessDenied("check the server's storage credentials".to_string())
            }
            other => {
                tracing::warn!(error = %other, artifact = %path, "artifact storage error");
                ArtifactError::Unavailable(summarise(&other))
            }
        }
    }

    pub(crate) fn from_io(error: std::io::Error, path: &ArtifactPath) -> ArtifactError {
        use std::io::ErrorKind;
        match error.kind() {
            ErrorKind::NotFound => ArtifactError::NotFound(path.clone()),
            ErrorKind::NotADirectory => ArtifactError::Conflict(path.clone(), "a parent of it is a file"),
            ErrorKind::IsADirectory => ArtifactError::IsDirectory(path.clone()),
            ErrorKind::PermissionDenied => {
                tracing::warn!(%error, artifact = %path, "artifact directory refused access");
                ArtifactError::AccessDenied("the server cannot access its artifact directory".to_string())
            }
            _ => {
                tracing::warn!(%error, artifact = %path, "artifact filesystem error");
                ArtifactError::Unavailable(error.kind().to_string())
            }
        }
    }
}

/// A short description of a storage error without paths or URLs of the backend.
fn summarise(error: &object_store::Error) -> String {
    match error {
        object_store::Error::Generic { store, .. } => format!("{store} request failed"),
        object_store::Error::NotSupported { .. } => "operation not supported by the storage".to_string(),
        object_store::Error::AlreadyExists { .. } => "the object already exists".to_string(),
        object_store::Error::Precondition { .. } => "a storage precondition failed".to_string(),
        _ => "storage request failed".to_string(),
    }
}
