//! One artifact root on one backend: streaming reads, atomic streaming writes, listing, deletion.
//!
//! Writes always go through `object_store`: small bodies as one `put`, larger ones as a
//! multipart upload fed part by part while the body streams in. Both publish atomically — the
//! local filesystem writes a staging file beside the target and renames it, S3 shows an object
//! only once its upload completes — so an interrupted upload never leaves a half-written
//! artifact visible. Local writes are synced (file, then directory) before they are reported,
//! as S3 makes an object durable before it answers. Memory stays bounded by
//! `part_size × (max_concurrency + 1)` whatever the file size. Local reads, listings and
//! deletions run on the filesystem directly, behind the containment checks of [`crate::local`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use futures::Stream;
use object_store::local::LocalFileSystem;
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt, PutPayloadMut, WriteMultipart};

use crate::error::ArtifactError;
use crate::local;
use crate::path::ArtifactPath;
use crate::Entry;

/// Sizes that bound memory and shape throughput.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Size of each multipart part (S3 needs at least 5 MiB); a body no larger is one `put`.
    pub part_size: usize,
    /// Parts uploading at once; the body is not read further while this many are in flight.
    pub max_concurrency: usize,
    /// Size of each chunk read from a local file for a download.
    pub read_chunk: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning { part_size: 8 * 1024 * 1024, max_concurrency: 4, read_chunk: 512 * 1024 }
    }
}

/// A file being downloaded: metadata for the headers and the byte stream.
pub struct Download {
    pub size: u64,
    pub last_modified: Option<SystemTime>,
    pub e_tag: Option<String>,
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download").field("size", &self.size).field("e_tag", &self.e_tag).finish_non_exhaustive()
    }
}

/// One artifact root: a local directory or an object-store prefix.
#[derive(Clone)]
pub struct ArtifactStore {
    /// The root as configured, for logs and for recognising artifact URIs under it.
    uri: String,
    store: Arc<dyn ObjectStore>,
    /// Key prefix inside the object store (`prefix` of `s3://bucket/prefix`).
    prefix: ArtifactPath,
    /// The canonical root directory when this is a local store.
    local_root: Option<PathBuf>,
    tuning: Tuning,
}

impl fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactStore").field("uri", &self.uri).field("local", &self.local_root.is_some()).finish()
    }
}

impl ArtifactStore {
    /// A store on a local directory, created if missing. `uri` is how artifact URIs name it
    /// (the directory as given, without `file://`).
    pub fn local(uri: impl Into<String>, directory: impl Into<PathBuf>) -> std::io::Result<ArtifactStore> {
        let directory = directory.into();
        std::fs::create_dir_all(&directory)?;
        // Canonical, so the containment check compares like with like even when the configured
        // root is itself reached through a symlink (a mounted volume, /tmp on macOS).
        let root = std::fs::canonicalize(&directory)?;
        let filesystem = LocalFileSystem::new_with_prefix(&root).map_err(std::io::Error::other)?.with_fsync(true);
        Ok(ArtifactStore {
            uri: uri.into(),
            store: Arc::new(filesystem),
            prefix: ArtifactPath::root(),
            local_root: Some(root),
            tuning: Tuning { max_concurrency: 2, ..Tuning::default() },
        })
    }

    /// A store on any object store (S3, or an in-memory one in tests), below `prefix`.
    pub fn object_store(uri: impl Into<String>, store: Arc<dyn ObjectStore>, prefix: ArtifactPath) -> ArtifactStore {
        ArtifactStore { uri: uri.into(), store, prefix, local_root: None, tuning: Tuning::default() }
    }

    pub fn with_tuning(mut self, tuning: Tuning) -> ArtifactStore {
        self.tuning = tuning;
        self
    }

    /// The root as configured (`/mlflow/artifacts`, `s3://bucket/prefix`).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn is_local(&self) -> bool {
        self.local_root.is_some()
    }

    /// `uri` relative to this root when an artifact URI lies at or below it.
    pub(crate) fn relative_of(&self, uri: &str) -> Option<Result<ArtifactPath, ArtifactError>> {
        use crate::location::{local_path_of, relative_to};
        match &self.local_root {
            Some(root) => {
                // `/srv/./mlruns//1` and `/srv/mlruns/1` name the same directory; `..` is kept
                // so that the relative part is refused rather than resolved.
                let tidy = |path: &str| {
                    let names: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
                    format!("/{}", names.join("/"))
                };
                let path = tidy(local_path_of(uri)?);
                let configured = tidy(local_path_of(&self.uri).unwrap_or(&self.uri));
                relative_to(&configured, &path).or_else(|| relative_to(root.to_str()?, &path))
            }
            None => relative_to(&self.uri, uri),
        }
    }

    fn key(&self, path: &ArtifactPath) -> Result<object_store::path::Path, ArtifactError> {
        let full = self.prefix.join(path);
        // Cannot fail for a parsed path (no control characters, no `.`/`..`/empty segments),
        // but a refusal here must never turn into a different key.
        object_store::path::Path::parse(full.as_str()).map_err(|_| {
            ArtifactError::InvalidPath(crate::path::InvalidPath { rejection: crate::path::Rejection::ControlCharacter })
        })
    }

    /// Runs blocking filesystem work for a local store on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&std::path::Path) -> Result<T, ArtifactError> + Send + 'static,
    ) -> Result<T, ArtifactError> {
        let root = self.local_root.clone().expect("blocking() is only used by local stores");
        tokio::task::spawn_blocking(move || work(&root))
            .await
            .map_err(|error| ArtifactError::Unavailable(format!("filesystem task failed: {error}")))?
    }

    /// Opens a file for streaming. Directories are refused; missing files are `NotFound`.
    pub async fn open(&self, path: &ArtifactPath) -> Result<Download, ArtifactError> {
        if path.is_root() {
            return Err(ArtifactError::IsDirectory(path.clone()));
        }
        if self.local_root.is_some() {
            let relative = path.clone();
            let opened = self.blocking(move |root| local::open(root, &relative)).await?;
            return Ok(Download {
                size: opened.size,
                last_modified: opened.modified,
                e_tag: None,
                body: file_stream(opened.file, self.tuning.read_chunk),
            });
        }
        let key = self.key(path)?;
        let result = match self.store.get(&key).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(if self.has_children(&key).await? {
                    ArtifactError::IsDirectory(path.clone())
                } else {
                    ArtifactError::NotFound(path.clone())
                });
            }
            Err(error) => return Err(ArtifactError::from_store(error, path)),
        };
        let meta = result.meta.clone();
        let body = match result.payload {
            GetResultPayload::File(file, _) => file_stream(file, self.tuning.read_chunk),
            GetResultPayload::Stream(stream) => stream.map_err(std::io::Error::other).boxed(),
        };
        Ok(Download {
            size: meta.size,
            last_modified: Some(SystemTime::from(meta.last_modified)),
            e_tag: meta.e_tag,
            body,
        })
    }

    async fn has_children(&self, key: &object_store::path::Path) -> Result<bool, ArtifactError> {
        let mut listing = self.store.list(Some(key));
        match listing.next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(error)) => Err(ArtifactError::from_store(error, &ArtifactPath::root())),
        }
    }

    /// Reads a whole file of at most `limit` bytes (e.g. a trace's `traces.json`).
    pub async fn read(&self, path: &ArtifactPath, limit: u64) -> Result<Bytes, ArtifactError> {
        let download = self.open(path).await?;
        if download.size > limit {
            return Err(ArtifactError::Conflict(path.clone(), "it is larger than this operation reads"));
        }
        let mut buffer = Vec::with_capacity(download.size as usize);
        let mut body = download.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| ArtifactError::from_io(error, path))?;
            if (buffer.len() + chunk.len()) as u64 > limit {
                return Err(ArtifactError::Conflict(path.clone(), "it is larger than this operation reads"));
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buffer))
    }

    /// Streams `body` into `path` and publishes it atomically; returns the number of bytes.
    /// A body that fails midway (client gone, connection reset) leaves nothing behind.
    pub async fn put<S, E>(&self, path: &ArtifactPath, body: S) -> Result<u64, ArtifactError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: fmt::Display,
    {
        if path.is_root() || path.has_trailing_slash() {
            return Err(ArtifactError::MissingFileName);
        }
        if self.local_root.is_some() {
            let relative = path.clone();
            self.blocking(move |root| local::check_writable(root, &relative)).await?;
        }
        let key = self.key(path)?;
        let Tuning { part_size, max_concurrency, .. } = self.tuning;
        let mut body = std::pin::pin!(body);
        let mut total: u64 = 0;

        // Small bodies (most artifacts) become one request: collect up to one part first.
        let mut first = PutPayloadMut::new();
        while first.content_length() < part_size {
            match body.next().await {
                None => {
                    self.store.put(&key, first.freeze()).await.map_err(|error| self.write_error(error, path))?;
                    return Ok(total);
                }
                Some(Ok(chunk)) => {
                    total += chunk.len() as u64;
                    first.push(chunk);
                }
                Some(Err(error)) => return Err(ArtifactError::UploadInterrupted(error.to_string())),
            }
        }

        let upload = self.store.put_multipart(&key).await.map_err(|error| self.write_error(error, path))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size);
        for chunk in first.freeze().iter() {
            writer.put(chunk.clone());
        }
        loop {
            // Backpressure: stop reading the body while enough parts are in flight.
            if let Err(error) = writer.wait_for_capacity(max_concurrency).await {
                let _ = writer.abort().await;
                return Err(ArtifactError::from_store(error, path));
            }
            match body.next().await {
                None => break,
                Some(Ok(chunk)) => {
                    total += chunk.len() as u64;
                    writer.put(chunk);
                }
                Some(Err(error)) => {
                    if let Err(abort_error) = writer.abort().await {
                        tracing::warn!(error = %abort_error, artifact = %path, "could not abort an interrupted upload");
                    }
                    return Err(ArtifactError::UploadInterrupted(error.to_string()));
                }
            }
        }
        writer.finish().await.map_err(|error| self.write_error(error, path))?;
        Ok(total)
    }

    /// A write can only be "not found" when the storage location itself is missing (S3 answers
    /// `NoSuchBucket`), which is not the client's missing artifact.
    fn write_error(&self, error: object_store::Error, path: &ArtifactPath) -> ArtifactError {
        match error {
            object_store::Error::NotFound { .. } => {
                tracing::warn!(%error, root = %self.uri, "artifact storage location does not exist");
                ArtifactError::Misconfigured(format!("{} does not exist", self.uri))
            }
            other => ArtifactError::from_store(other, path),
        }
    }

    /// Checks that the root can be listed (credentials, bucket, endpoint), for a start-up warning.
    pub async fn check(&self) -> Result<(), ArtifactError> {
        if self.local_root.is_some() {
            return self.list(&ArtifactPath::root()).await.map(|_| ());
        }
        let prefix = if self.prefix.is_root() { None } else { Some(self.key(&ArtifactPath::root())?) };
        self.store.list_with_delimiter(prefix.as_ref()).await.map(|_| ()).map_err(|error| match error {
            object_store::Error::NotFound { .. } => ArtifactError::Misconfigured(format!("{} does not exist", self.uri)),
            other => ArtifactError::from_store(other, &ArtifactPath::root()),
        })
    }

    /// The entries directly inside `dir`, sorted by name; empty when `dir` does not exist or is
    /// a file.
    pub async fn list(&self, dir: &ArtifactPath) -> Result<Vec<Entry>, ArtifactError> {
        if self.local_root.is_some() {
            let relative = dir.clone();
            return self.blocking(move |root| local::list(root, &relative)).await;
        }
        let full = self.prefix.join(dir);
        let key = if full.is_root() { None } else { Some(self.key(dir)?) };
        let listing = self.store.list_with_delimiter(key.as_ref()).await.map_err(|error| ArtifactError::from_store(error, dir))?;
        let mut entries = Vec::new();
        for prefix in listing.common_prefixes {
            if let Some(name) = prefix.filename() {
                if dir.child(name).is_ok() {
                    entries.push(Entry { name: name.to_string(), is_dir: true, size: None });
                }
            }
        }
        for object in listing.objects {
            // A "directory marker" object (`dir/`) is the listed directory itself.
            if key.as_ref() == Some(&object.location) {
                continue;
            }
            if let Some(name) = object.location.filename() {
                if dir.child(name).is_ok() {
                    entries.push(Entry { name: name.to_string(), is_dir: false, size: Some(object.size) });
                }
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Deletes a file or everything below a directory; deleting nothing succeeds. The root
    /// itself is never deleted.
    pub async fn delete(&self, path: &ArtifactPath) -> Result<(), ArtifactError> {
        if path.is_root() {
            return Err(ArtifactError::MissingFileName);
        }
        if self.local_root.is_some() {
            let relative = path.clone();
            return self.blocking(move |root| local::delete(root, &relative)).await;
        }
        let key = self.key(path)?;
        match self.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(ArtifactError::from_store(error, path)),
        }
        // `list` under a prefix only yields keys below `key/`, never siblings like `key2`.
        let below = self.store.list(Some(&key)).map_ok(|meta| meta.location).boxed();
        let mut deleted = self.store.delete_stream(below);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(ArtifactError::from_store(error, path)),
            }
        }
        Ok(())
    }
}

/// Streams a local file in large chunks, one blocking read per chunk, so a download holds at
/// most one chunk in memory and never ties up a runtime thread.
fn file_stream(file: std::fs::File, chunk_size: usize) -> BoxStream<'static, std::io::Result<Bytes>> {
    futures::stream::try_unfold(Some(file), move |state| async move {
        let Some(mut file) = state else {
            return Ok(None);
        };
        let (file, chunk) = tokio::task::spawn_blocking(move || {
            let chunk = local::read_chunk(&mut file, chunk_size);
            (file, chunk)
        })
        .await
        .map_err(std::io::Error::other)?;
        let chunk = chunk?;
        if chunk.is_empty() {
            return Ok(None);
        }
        Ok(Some((Bytes::from(chunk), Some(file))))
    })
    .boxed()
}
