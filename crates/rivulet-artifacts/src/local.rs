//! Filesystem containment: resolving artifact paths under a local root without ever leaving it.
//!
//! `object_store`'s `LocalFileSystem` follows symlinks wherever they point, so a link placed
//! inside the root (by an operator, a restored backup, another tool) could expose `/etc`. Every
//! local operation therefore resolves its path here first: each existing component is inspected
//! with `lstat`, and a symlink is allowed only if its canonical target stays under the
//! canonical root. These functions block; callers run them on the blocking pool.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::ArtifactError;
use crate::path::ArtifactPath;
use crate::Entry;

/// The filesystem path of `relative` under `root` (canonical), after checking that every
/// existing component resolves inside `root`. Components that do not exist yet are fine: they
/// will be created as plain directories by the write.
pub(crate) fn resolve(root: &Path, relative: &ArtifactPath) -> Result<PathBuf, ArtifactError> {
    let names: Vec<&str> = relative.segments().collect();
    let mut current = root.to_path_buf();
    for (index, name) in names.iter().enumerate() {
        current.push(name);
        let metadata = match fs::symlink_metadata(&current) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                for rest in &names[index + 1..] {
                    current.push(rest);
                }
                return Ok(current);
            }
            Err(error) => return Err(ArtifactError::from_io(error, relative)),
        };
        let is_last = index + 1 == names.len();
        if metadata.file_type().is_symlink() {
            // A dangling link cannot be proven to stay inside, so it is refused like one that leaves.
            let target = fs::canonicalize(&current).map_err(|_| ArtifactError::OutsideRoot)?;
            if !target.starts_with(root) {
                tracing::warn!(artifact = %relative, "refused a symlink that leaves the artifact root");
                return Err(ArtifactError::OutsideRoot);
            }
            if !is_last && !target.is_dir() {
                return Err(ArtifactError::Conflict(relative.clone(), "a parent of it is a file"));
            }
        } else if !is_last && !metadata.is_dir() {
            return Err(ArtifactError::Conflict(relative.clone(), "a parent of it is a file"));
        }
    }
    Ok(current)
}

/// An opened local file ready to stream.
pub(crate) struct OpenFile {
    pub file: fs::File,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

pub(crate) fn open(root: &Path, relative: &ArtifactPath) -> Result<OpenFile, ArtifactError> {
    let path = resolve(root, relative)?;
    let metadata = fs::metadata(&path).map_err(|error| ArtifactError::from_io(error, relative))?;
    if metadata.is_dir() {
        return Err(ArtifactError::IsDirectory(relative.clone()));
    }
    let file = fs::File::open(&path).map_err(|error| ArtifactError::from_io(error, relative))?;
    Ok(OpenFile { file, size: metadata.len(), modified: metadata.modified().ok() })
}

/// Reads the next chunk of at most `chunk_size` bytes; an empty vector means end of file.
pub(crate) fn read_chunk(file: &mut fs::File, chunk_size: usize) -> io::Result<Vec<u8>> {
    let mut buffer = vec![0u8; chunk_size];
    let mut filled = 0;
    // Fill the whole chunk when the file allows, so the response goes out in few large frames.
    while filled < chunk_size {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    buffer.truncate(filled);
    Ok(buffer)
}

/// The entries directly inside `relative`; empty when it does not exist or is a file (as
/// MLflow's local repository answers). Entries that could not have been written through the
/// API (hostile names, `object_store` staging files `name#N`) and symlinks leaving the root are
/// left out.
pub(crate) fn list(root: &Path, relative: &ArtifactPath) -> Result<Vec<Entry>, ArtifactError> {
    let dir = resolve(root, relative)?;
    let reader = match fs::read_dir(&dir) {
        Ok(reader) => reader,
        Err(error) if matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(Vec::new()),
        Err(error) => return Err(ArtifactError::from_io(error, relative)),
    };
    let mut entries = Vec::new();
    for item in reader {
        let item = item.map_err(|error| ArtifactError::from_io(error, relative))?;
        let Some(name) = item.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if relative.child(&name).is_err() {
            continue;
        }
        let entry_path = item.path();
        let file_type = match item.file_type() {
            Ok(file_type) => file_type,
            Err(_) => continue,
        };
        if file_type.is_symlink() {
            match fs::canonicalize(&entry_path) {
                Ok(target) if target.starts_with(root) => {}
                _ => continue,
            }
        }
        let Ok(metadata) = fs::metadata(&entry_path) else {
            continue;
        };
        if metadata.is_dir() {
            entries.push(Entry { name, is_dir: true, size: None });
        } else if metadata.is_file() {
            entries.push(Entry { name, is_dir: false, size: Some(metadata.len()) });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Removes a file or a whole directory. A symlink is removed itself, never its target.
/// Deleting something that is not there succeeds, so a retried DELETE is harmless.
pub(crate) fn delete(root: &Path, relative: &ArtifactPath) -> Result<(), ArtifactError> {
    let path = resolve(root, relative)?;
    let metadata = match fs::symlink_metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(ArtifactError::from_io(error, relative)),
    };
    let result = if metadata.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
    match result {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(ArtifactError::from_io(error, relative)),
    }
}

/// Checks before an upload that the target is not a directory and no parent is a file, so the
/// client gets a clear 400 instead of a storage error after sending the whole body.
pub(crate) fn check_writable(root: &Path, relative: &ArtifactPath) -> Result<(), ArtifactError> {
    let path = resolve(root, relative)?;
    match fs::metadata(&path) {
        Ok(metadata) if metadata.is_dir() => Err(ArtifactError::Conflict(relative.clone(), "it is a directory")),
        _ => Ok(()),
    }
}
