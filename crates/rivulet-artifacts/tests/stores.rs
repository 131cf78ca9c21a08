//! Both backends through the same checks: round trips, listings, deletion, atomic uploads that
//! leave nothing behind when interrupted, and (local) symlinks that must not lead outside.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use object_store::memory::InMemory;
use rivulet_artifacts::{ArtifactError, ArtifactPath, ArtifactStore, Entry, Tuning};

fn path(raw: &str) -> ArtifactPath {
    ArtifactPath::parse(raw).unwrap()
}

/// Small parts so that a few KiB already take the multipart path.
const SMALL_PARTS: Tuning = Tuning { part_size: 1024, max_concurrency: 2, read_chunk: 700 };

fn local_store(dir: &std::path::Path) -> ArtifactStore {
    ArtifactStore::local(dir.to_string_lossy(), dir.join("root")).unwrap().with_tuning(SMALL_PARTS)
}

fn memory_store() -> ArtifactStore {
    ArtifactStore::object_store("s3://bucket/prefix", Arc::new(InMemory::new()), path("prefix")).with_tuning(SMALL_PARTS)
}

fn body(data: &[u8], chunk: usize) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Bytes, std::io::Error>> = data.chunks(chunk.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    stream::iter(chunks)
}

/// A body that delivers `data` and then fails, as a dropped client connection does.
fn broken_body(data: &[u8]) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    body(data, 100).chain(stream::iter(vec![Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away"))]))
}

async fn read_all(store: &ArtifactStore, raw: &str) -> Result<Vec<u8>, ArtifactError> {
    let download = store.open(&path(raw)).await?;
    let expected = download.size;
    let mut out = Vec::new();
    let mut body = download.body;
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(out.len() as u64, expected);
    Ok(out)
}

fn names(entries: &[Entry]) -> Vec<(String, bool, Option<u64>)> {
    entries.iter().map(|e| (e.name.clone(), e.is_dir, e.size)).collect()
}

fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn round_trip(store: ArtifactStore) {
    let big = patterned(10_000); // ten parts
    assert_eq!(store.put(&path("1/run/artifacts/small.txt"), body(b"hello", 2)).await.unwrap(), 5);
    assert_eq!(store.put(&path("1/run/artifacts/dir/big.bin"), body(&big, 333)).await.unwrap(), 10_000);
    assert_eq!(store.put(&path("1/run/artifacts/empty"), body(b"", 1)).await.unwrap(), 0);
    assert_eq!(read_all(&store, "1/run/artifacts/small.txt").await.unwrap(), b"hello");
    assert_eq!(read_all(&store, "1/run/artifacts/dir/big.bin").await.unwrap(), big);
    assert_eq!(read_all(&store, "1/run/artifacts/empty").await.unwrap(), b"");

    // Overwrite replaces the content.
    store.put(&path("1/run/artifacts/small.txt"), body(b"bye", 10)).await.unwrap();
    assert_eq!(read_all(&store, "1/run/artifacts/small.txt").await.unwrap(), b"bye");

    assert_eq!(
        names(&store.list(&path("1/run/artifacts")).await.unwrap()),
        vec![("dir".into(), true, None), ("empty".into(), false, Some(0)), ("small.txt".into(), false, Some(3))]
    );
    assert_eq!(names(&store.list(&path("1/run/artifacts/dir")).await.unwrap()), vec![("big.bin".into(), false, Some(10_000))]);
    assert!(store.list(&path("1/nope")).await.unwrap().is_empty());
    assert!(store.list(&path("1/run/artifacts/small.txt")).await.unwrap().is_empty(), "a file lists as nothing");
    assert_eq!(names(&store.list(&ArtifactPath::root()).await.unwrap()), vec![("1".into(), true, None)]);

    assert!(matches!(store.open(&path("1/run/artifacts/missing")).await, Err(ArtifactError::NotFound(_))));
    assert!(matches!(store.open(&path("1/run/artifacts/dir")).await, Err(ArtifactError::IsDirectory(_))));
    assert!(matches!(store.put(&path("1/run/artifacts/dir/"), body(b"x", 1)).await, Err(ArtifactError::MissingFileName)));
    assert!(matches!(store.put(&ArtifactPath::root(), body(b"x", 1)).await, Err(ArtifactError::MissingFileName)));
    assert_eq!(store.read(&path("1/run/artifacts/small.txt"), 10).await.unwrap(), Bytes::from_static(b"bye"));
    assert!(store.read(&path("1/run/artifacts/dir/big.bin"), 10).await.is_err());

    // Deleting a directory removes everything below it, and nothing beside it.
    store.put(&path("1/run/artifacts/dir2/keep.txt"), body(b"k", 1)).await.unwrap();
    store.delete(&path("1/run/artifacts/dir")).await.unwrap();
    assert!(matches!(store.open(&path("1/run/artifacts/dir/big.bin")).await, Err(ArtifactError::NotFound(_))));
    assert_eq!(read_all(&store, "1/run/artifacts/dir2/keep.txt").await.unwrap(), b"k");
    store.delete(&path("1/run/artifacts/small.txt")).await.unwrap();
    store.delete(&path("1/run/artifacts/never-existed")).await.unwrap();
    assert!(matches!(store.delete(&ArtifactPath::root()).await, Err(ArtifactError::MissingFileName)));
    assert_eq!(
        names(&store.list(&path("1/run/artifacts")).await.unwrap()),
        vec![("dir2".into(), true, None), ("empty".into(), false, Some(0))]
    );
}

async fn interrupted_uploads_leave_nothing(store: ArtifactStore) {
    // Interrupted while still collecting the first part (one-request path) …
    let error = store.put(&path("x/small.bin"), broken_body(&patterned(500))).await.unwrap_err();
    assert!(matches!(error, ArtifactError::UploadInterrupted(_)), "{error:?}");
    // … and in the middle of a multipart upload.
    let error = store.put(&path("x/large.bin"), broken_body(&patterned(5000))).await.unwrap_err();
    assert!(matches!(error, ArtifactError::UploadInterrupted(_)), "{error:?}");
    assert!(matches!(store.open(&path("x/small.bin")).await, Err(ArtifactError::NotFound(_))));
    assert!(matches!(store.open(&path("x/large.bin")).await, Err(ArtifactError::NotFound(_))));
    assert!(store.list(&path("x")).await.unwrap().is_empty());

    // A failed overwrite keeps the previous version whole.
    store.put(&path("x/kept.bin"), body(&patterned(3000), 500)).await.unwrap();
    store.put(&path("x/kept.bin"), broken_body(&[7u8; 4000])).await.unwrap_err();
    assert_eq!(read_all(&store, "x/kept.bin").await.unwrap(), patterned(3000));

    // An upload abandoned midway (the request future dropped) publishes nothing either.
    let (sender, receiver) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let upload = {
        let store = store.clone();
        tokio::spawn(async move { store.put(&path("x/abandoned.bin"), receiver).await })
    };
    let mut sender = sender;
    for _ in 0..5 {
        futures::SinkExt::send(&mut sender, Ok(Bytes::from(vec![1u8; 1000]))).await.unwrap();
    }
    upload.abort();
    let _ = upload.await;
    assert!(matches!(store.open(&path("x/abandoned.bin")).await, Err(ArtifactError::NotFound(_))));
    assert_eq!(names(&store.list(&path("x")).await.unwrap()), vec![("kept.bin".into(), false, Some(3000))]);
}

#[tokio::test]
async fn local_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(local_store(dir.path())).await;
}

#[tokio::test]
async fn object_store_round_trip() {
    round_trip(memory_store()).await;
}

#[tokio::test]
async fn local_interrupted_uploads_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path());
    interrupted_uploads_leave_nothing(store).await;
    // Not even a hidden staging file once the abandoned upload's cleanup has run.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("root/x")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("kept.bin")]);
}

#[tokio::test]
async fn object_store_interrupted_uploads_leave_nothing() {
    interrupted_uploads_leave_nothing(memory_store()).await;
}

#[tokio::test]
async fn object_store_keys_stay_under_the_prefix() {
    let memory = Arc::new(InMemory::new());
    let store = ArtifactStore::object_store("s3://bucket/prefix", memory.clone(), path("prefix"));
    // Something beside the prefix that must stay invisible and untouched.
    object_store::ObjectStoreExt::put(memory.as_ref(), &object_store::path::Path::from("prefixed-sibling/secret"), Bytes::from_static(b"s").into())
        .await
        .unwrap();
    store.put(&path("a/b.txt"), body(b"x", 1)).await.unwrap();
    let keys: Vec<String> = object_store::ObjectStore::list(memory.as_ref(), None).map(|m| m.unwrap().location.to_string()).collect().await;
    assert!(keys.contains(&"prefix/a/b.txt".to_string()), "{keys:?}");
    assert_eq!(names(&store.list(&ArtifactPath::root()).await.unwrap()), vec![("a".into(), true, None)]);
    store.delete(&path("a")).await.unwrap();
    let keys: Vec<String> = object_store::ObjectStore::list(memory.as_ref(), None).map(|m| m.unwrap().location.to_string()).collect().await;
    assert_eq!(keys, vec!["prefixed-sibling/secret".to_string()]);
}

#[cfg(unix)]
#[tokio::test]
async fn local_symlinks_cannot_lead_outside_the_root() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path());
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(outside.join("sub")).unwrap();
    std::fs::write(outside.join("secret.txt"), b"secret").unwrap();
    std::fs::create_dir_all(root.join("1/inside")).unwrap();
    std::fs::write(root.join("1/inside/ok.txt"), b"ok").unwrap();
    symlink(&outside, root.join("1/escape")).unwrap();
    symlink(outside.join("secret.txt"), root.join("1/secret-link")).unwrap();
    symlink(dir.path().join("missing"), root.join("1/dangling")).unwrap();
    symlink(root.join("1/inside"), root.join("1/alias")).unwrap();
    symlink("../../..", root.join("1/inside/up")).unwrap();

    for hostile in ["1/escape/secret.txt", "1/secret-link", "1/dangling", "1/inside/up/outside/secret.txt", "1/escape"] {
        let p = path(hostile);
        assert!(matches!(store.open(&p).await, Err(ArtifactError::OutsideRoot)), "read {hostile}");
        assert!(matches!(store.delete(&p).await, Err(ArtifactError::OutsideRoot)), "delete {hostile}");
        assert!(matches!(store.list(&p).await, Err(ArtifactError::OutsideRoot)), "list {hostile}");
    }
    for hostile in ["1/escape/new.txt", "1/escape/sub/new.txt", "1/dangling/new.txt", "1/secret-link", "1/inside/up/x.txt"] {
        assert!(matches!(store.put(&path(hostile), body(b"pwned", 2)).await, Err(ArtifactError::OutsideRoot)), "write {hostile}");
    }
    // Nothing outside changed, and the links are still there.
    assert_eq!(std::fs::read(outside.join("secret.txt")).unwrap(), b"secret");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 2);
    assert!(std::fs::symlink_metadata(root.join("1/escape")).is_ok());

    // Listings leave out links that lead outside, and keep the ones that stay inside.
    let listed = names(&store.list(&path("1")).await.unwrap());
    assert_eq!(listed, vec![("alias".into(), true, None), ("inside".into(), true, None)]);
    // A link that stays inside works like the directory it names.
    assert_eq!(read_all(&store, "1/alias/ok.txt").await.unwrap(), b"ok");
    store.put(&path("1/alias/new.txt"), body(b"n", 1)).await.unwrap();
    assert_eq!(std::fs::read(root.join("1/inside/new.txt")).unwrap(), b"n");
}

#[tokio::test]
async fn local_conflicts_are_reported_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path());
    store.put(&path("a/file.txt"), body(b"x", 1)).await.unwrap();
    assert!(matches!(store.put(&path("a/file.txt/child"), body(b"x", 1)).await, Err(ArtifactError::Conflict(..))));
    assert!(matches!(store.put(&path("a"), body(b"x", 1)).await, Err(ArtifactError::Conflict(..))));
}

#[test]
fn roots_open_from_uris() {
    let dir = tempfile::tempdir().unwrap();
    let settings = rivulet_artifacts::StorageSettings { base_dir: dir.path().to_path_buf(), ..Default::default() };
    let relative = rivulet_artifacts::open_root("./mlartifacts", &settings).unwrap();
    assert!(relative.is_local());
    assert_eq!(relative.uri(), dir.path().join("./mlartifacts").to_string_lossy().trim_end_matches('/'));
    assert!(dir.path().join("mlartifacts").is_dir(), "a local root is created");
    let file_uri = format!("file://{}/x", dir.path().display());
    assert!(rivulet_artifacts::open_root(&file_uri, &settings).unwrap().is_local());
    let s3 = rivulet_artifacts::open_root("s3://bucket/some/prefix/", &settings).unwrap();
    assert!(!s3.is_local());
    assert_eq!(s3.uri(), "s3://bucket/some/prefix");
    assert_eq!(rivulet_artifacts::open_root("s3://bucket", &settings).unwrap().uri(), "s3://bucket");
    assert!(rivulet_artifacts::open_root("s3://bucket/../x", &settings).is_err());
    assert!(rivulet_artifacts::open_root("s3:///x", &settings).is_err());
    assert!(rivulet_artifacts::open_root("gs://bucket/x", &settings).unwrap_err().contains("unsupported"));
    assert!(rivulet_artifacts::is_storage_uri("s3://b/p") && rivulet_artifacts::is_storage_uri("/srv/mlruns"));
    assert!(!rivulet_artifacts::is_storage_uri("mlflow-artifacts:/"));
}
