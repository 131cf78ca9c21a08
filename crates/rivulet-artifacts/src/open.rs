//! Opening artifact roots from URIs: a local directory or `s3://bucket/prefix`.
//!
//! The binary reads flags and environment and hands the values here; this module never reads
//! the environment itself. S3 settings mirror what MLflow users already set: the `AWS_*`
//! variables boto3 reads, and `MLFLOW_S3_ENDPOINT_URL` for S3-compatible stores (MinIO, Ceph,
//! moto), which are addressed path-style.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::ClientConfigKey;

use crate::location::local_path_of;
use crate::path::ArtifactPath;
use crate::store::ArtifactStore;

/// Storage settings taken from the environment by the binary.
#[derive(Clone, Default)]
pub struct StorageSettings {
    /// `MLFLOW_S3_ENDPOINT_URL`: an S3-compatible endpoint such as `http://minio:9000`.
    pub s3_endpoint: Option<String>,
    /// `MLFLOW_S3_IGNORE_TLS=true`: accept invalid TLS certificates from the endpoint.
    pub s3_ignore_tls: bool,
    /// Every `AWS_*` variable (credentials, region, web identity, container credentials), as
    /// name/value pairs; names `object_store` does not know are ignored.
    pub aws_env: Vec<(String, String)>,
    /// Directory that relative local roots are resolved against (the working directory).
    pub base_dir: PathBuf,
}

impl std::fmt::Debug for StorageSettings {
    // Never print credentials: only the names of the AWS variables that were set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.aws_env.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("StorageSettings")
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_ignore_tls", &self.s3_ignore_tls)
            .field("aws_env", &names)
            .field("base_dir", &self.base_dir)
            .finish()
    }
}

/// Whether a root URI names storage this crate can open (rather than `mlflow-artifacts:/`).
pub fn is_storage_uri(uri: &str) -> bool {
    let uri = uri.trim();
    uri.starts_with("s3://") || local_path_of(uri).is_some() || !uri.contains(':')
}

/// Opens the root `uri`: `s3://bucket[/prefix]`, `file:///abs`, `/abs` or a path relative to
/// `settings.base_dir`. Local roots are created when missing.
pub fn open_root(uri: &str, settings: &StorageSettings) -> Result<ArtifactStore, String> {
    let uri = uri.trim();
    if let Some(rest) = uri.strip_prefix("s3://") {
        return open_s3(rest, settings);
    }
    let path = match local_path_of(uri) {
        Some(path) => PathBuf::from(path),
        None if !uri.contains(':') && !uri.is_empty() => settings.base_dir.join(uri),
        None => {
            return Err(format!(
                "unsupported artifact storage '{uri}': Rivulet stores artifacts in a local directory or in S3-compatible storage (s3://bucket/prefix)"
            ))
        }
    };
    let display = path.to_string_lossy().trim_end_matches('/').to_string();
    ArtifactStore::local(if display.is_empty() { "/".to_string() } else { display }, &path)
        .map_err(|error| format!("cannot use artifact directory {}: {error}", path.display()))
}

fn open_s3(bucket_and_prefix: &str, settings: &StorageSettings) -> Result<ArtifactStore, String> {
    let (bucket, prefix) = bucket_and_prefix.split_once('/').unwrap_or((bucket_and_prefix, ""));
    if bucket.is_empty() {
        return Err("an s3:// artifact root needs a bucket: s3://bucket/prefix".to_string());
    }
    let prefix = ArtifactPath::parse(prefix).map_err(|_| format!("invalid prefix in s3://{bucket_and_prefix}"))?;
    // TLS to S3 runs on rustls with ring (lighter to build than aws-lc); rustls needs the
    // process-wide provider chosen once. An `Err` means one is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = AmazonS3Builder::new();
    for (name, value) in &settings.aws_env {
        if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(key, value.clone());
        }
    }
    builder = builder.with_bucket_name(bucket);
    if let Some(endpoint) = settings.s3_endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        // S3-compatible servers rarely have per-bucket DNS names, so address them path-style,
        // as boto3 does for a custom endpoint.
        builder = builder
            .with_endpoint(endpoint.trim_end_matches('/'))
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    if settings.s3_ignore_tls {
        builder = builder.with_config(AmazonS3ConfigKey::Client(ClientConfigKey::AllowInvalidCertificates), "true");
    }
    let s3 = builder.build().map_err(|error| format!("cannot configure S3 artifact storage s3://{bucket_and_prefix}: {error}"))?;
    let uri = if prefix.is_root() { format!("s3://{bucket}") } else { format!("s3://{bucket}/{prefix}") };
    Ok(ArtifactStore::object_store(uri, Arc::new(s3), prefix))
}
