//! Rivulet's artifact storage: MLflow's proxied artifact service on a local directory or on
//! S3-compatible object storage, with traversal-proof paths and streaming in both directions.
//!
//! - [`path`] turns client-supplied paths into [`ArtifactPath`]s (pure, no I/O); nothing else
//!   becomes a storage key.
//! - [`ArtifactStore`] is one root on one backend (`object_store`'s local filesystem or S3):
//!   streamed downloads, atomic streamed uploads, listings, deletions.
//! - [`Artifacts`] is a server's configured storage, and maps artifact URIs
//!   (`mlflow-artifacts:/…`, `s3://…`, paths) onto it.
//! - [`open_root`] builds a store from a root URI and [`StorageSettings`] the binary read.

mod error;
mod local;
mod location;
mod open;
pub mod path;
mod store;

pub use error::ArtifactError;
pub use location::{ArtifactLocation, Artifacts};
pub use open::{is_storage_uri, open_root, StorageSettings};
pub use path::ArtifactPath;
pub use store::{ArtifactStore, Download, Tuning};

/// One entry of a directory listing: a bare name, as MLflow's list endpoints return them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    /// Size in bytes; files only.
    pub size: Option<u64>,
}
