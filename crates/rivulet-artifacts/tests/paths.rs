//! Path safety: every traversal vector of `security-history.md` is refused, ordinary names are
//! kept, and no accepted path can ever name anything outside the root.

use proptest::prelude::*;
use rivulet_artifacts::path::{ArtifactPath, Rejection};
use rivulet_artifacts::{ArtifactLocation, Artifacts};

/// Traversal vectors, as they may arrive after the HTTP layer decoded the URL once or not at all.
const HOSTILE: &[&str] = &[
    // `..` in every position and spelling.
    "..",
    "../x",
    "a/../../x",
    "a/..",
    "x/../..",
    "a/b/../../../etc/passwd",
    // Encoded dots and slashes, once, twice, three times.
    "%2e%2e/x",
    "%2E%2E/x",
    ".%2e/x",
    "%2e./x",
    "..%2fx",
    "..%2Fx",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e/x",
    "%252e%252e%252fx",
    "%25252e%25252e%25252fetc%25252fpasswd",
    "a%2f..%2f..%2fx",
    // Backslashes: separators on Windows, so `..\` is a parent reference there.
    "..\\x",
    "a\\..\\..\\x",
    "\\..\\..\\filename",
    "a%5c..%5cb",
    "a%5C..%5Cb",
    "%255c..%255cx",
    "\\\\server\\share",
    // Absolute paths, POSIX and Windows, plain and encoded.
    "/etc/passwd",
    "//etc/passwd",
    "%2Fetc%2Fpasswd",
    "%252Fetc%252Fpasswd",
    "C:/x",
    "C:%2Fx",
    "c:\\windows",
    "C:x",
    "file:///etc/passwd",
    "file:%2F%2F%2Fetc%2Fpasswd",
    "FILE:/etc/passwd",
    "file:x",
    "s3://other-bucket/key",
    "mlflow-artifacts://evil.com/x",
    "http://169.254.169.254/latest/meta-data/",
    // Fragments, queries and `;` parameters smuggled into the path.
    "a#b",
    "a%23b",
    "a%2523b",
    "x#/../../etc",
    "a?b",
    "a%3Fb",
    "a%3f../../x",
    "a;/../../etc",
    "a%3Bx",
    "model;jsessionid=1",
    // NUL and other control characters.
    "a\0b",
    "a%00b",
    "a%2500b",
    "x%00/../y",
    "a\nb",
    "a%0Ab",
    "a%0db",
    "a%7fb",
    // Bytes that are not UTF-8, including overlong encodings of `.` and `/`.
    "%ff",
    "%c0%ae%c0%ae/x",
    "%c0%af",
    "%e0%80%ae",
];

#[test]
fn every_traversal_vector_is_refused() {
    for raw in HOSTILE {
        let result = ArtifactPath::parse(raw);
        assert!(result.is_err(), "{raw:?} was accepted as {:?}", result.unwrap());
        assert_eq!(result.unwrap_err().to_string(), "Invalid path");
    }
}

#[test]
fn specific_reasons() {
    let reason = |raw: &str| ArtifactPath::parse(raw).unwrap_err().rejection;
    assert_eq!(reason("%252e%252e%252fx"), Rejection::ParentReference);
    assert_eq!(reason("a%5c..%5cb"), Rejection::Backslash);
    assert_eq!(reason("%2Fetc"), Rejection::Absolute);
    assert_eq!(reason("C:/x"), Rejection::SchemeOrDrive);
    assert_eq!(reason("a%00b"), Rejection::ControlCharacter);
    assert_eq!(reason("a%23b"), Rejection::UrlDelimiter);
    assert_eq!(reason("%c0%ae"), Rejection::NotUtf8);
    assert_eq!(reason(&"a/".repeat(600)), Rejection::TooLong);
    assert_eq!(reason(&"x".repeat(256)), Rejection::TooLong);
    // Eleven layers of encoding never settle within MLflow's ten rounds.
    let mut deep = String::from("%2e");
    for _ in 0..11 {
        deep = deep.replace('%', "%25");
    }
    assert_eq!(reason(&deep), Rejection::EndlessEncoding);
}

#[test]
fn ordinary_names_are_accepted_and_normalised() {
    let ok = |raw: &str| ArtifactPath::parse(raw).unwrap_or_else(|e| panic!("{raw:?} refused: {e:?}")).as_str().to_string();
    assert_eq!(ok("0/abc123/artifacts/model/MLmodel"), "0/abc123/artifacts/model/MLmodel");
    assert_eq!(ok("1/traces/tr-abc/artifacts/traces.json"), "1/traces/tr-abc/artifacts/traces.json");
    assert_eq!(ok("dir//sub/./x.txt"), "dir/sub/x.txt");
    assert_eq!(ok("./x"), "x");
    assert_eq!(ok("..."), "...");
    assert_eq!(ok("..a/b..c/.hidden"), "..a/b..c/.hidden");
    assert_eq!(ok("run 1/résumé 📈.txt"), "run 1/résumé 📈.txt");
    assert_eq!(ok("run%201/r%C3%A9sum%C3%A9.txt"), "run 1/résumé.txt");
    assert_eq!(ok("12:30.log"), "12:30.log");
    assert_eq!(ok("model:v1/x"), "model:v1/x");
    assert_eq!(ok("100% done.txt"), "100% done.txt");
    assert_eq!(ok("a+b=c,d@e!(f)[g]{h}~$&'"), "a+b=c,d@e!(f)[g]{h}~$&'");
    assert_eq!(ok(""), "");
    assert!(ArtifactPath::parse("dir/").unwrap().has_trailing_slash());
    assert!(ArtifactPath::parse("dir/.").unwrap().has_trailing_slash());
}

#[test]
fn artifact_uris_map_onto_the_proxy_without_traversal() {
    let proxied = |uri: &str| match ArtifactLocation::parse(uri).unwrap() {
        ArtifactLocation::Proxied(path) => path.as_str().to_string(),
        other => panic!("{uri} is {other:?}"),
    };
    assert_eq!(proxied("mlflow-artifacts:/3/abc/artifacts"), "3/abc/artifacts");
    assert_eq!(proxied("mlflow-artifacts://host:5000/3/abc/artifacts"), "3/abc/artifacts");
    assert_eq!(proxied("mlflow-artifacts:/"), "");
    assert_eq!(proxied("http://h:5000/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts"), "3/abc/artifacts");
    assert_eq!(proxied("https://h/prefix/api/2.0/mlflow-artifacts/artifacts/3/x"), "3/x");
    for hostile in [
        "mlflow-artifacts:/3/abc/artifacts/../../../../etc",
        "mlflow-artifacts://host/../../etc",
        "http://h/api/2.0/mlflow-artifacts/artifacts/../../../../",
        "http://h/api/2.0/mlflow-artifacts/artifacts/x/%2e%2e/%2e%2e",
        "mlflow-artifacts:/x#/../../etc",
    ] {
        assert!(ArtifactLocation::parse(hostile).is_err(), "{hostile}");
    }
    assert_eq!(ArtifactLocation::parse("s3://b/p/1").unwrap(), ArtifactLocation::Storage("s3://b/p/1".into()));
    assert_eq!(ArtifactLocation::parse("http://evil.com/x").unwrap(), ArtifactLocation::Storage("http://evil.com/x".into()));
}

#[test]
fn unconfigured_storage_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = rivulet_artifacts::ArtifactStore::local(dir.path().to_string_lossy(), dir.path()).unwrap();
    let artifacts = Artifacts::new(Some(store), Vec::new());
    let root = dir.path().to_string_lossy().to_string();
    let (_, base) = artifacts.resolve(&format!("{root}/1/r/artifacts")).unwrap();
    assert_eq!(base.as_str(), "1/r/artifacts");
    let (_, base) = artifacts.resolve(&format!("file://{root}/1/r/artifacts")).unwrap();
    assert_eq!(base.as_str(), "1/r/artifacts");
    for elsewhere in ["/etc", "file:///etc", &format!("{root}x/1"), "s3://bucket/x", "http://evil.com/x", "hdfs://h/x"] {
        let error = artifacts.resolve(elsewhere).unwrap_err();
        assert!(matches!(error, rivulet_artifacts::ArtifactError::NotServed(_)), "{elsewhere}: {error:?}");
    }
    assert!(artifacts.resolve(&format!("{root}/1/../../etc")).is_err());
    assert!(matches!(
        Artifacts::disabled().resolve("mlflow-artifacts:/1/x").unwrap_err(),
        rivulet_artifacts::ArtifactError::ServingDisabled
    ));
}

/// Pieces a fuzzer combines: every separator, dot and encoding trick next to plain names.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a", "b.txt", ".", "..", "...", "/", "//", "\\", "%2e", "%2E", "%2f", "%2F", "%5c", "%25", "%252e", "%252f", "%00",
        "%23", "#", "?", ";", ":", "C:", "file:", "%c0%ae", "é", " ", "%20", "~",
    ])
}

proptest! {
    #[test]
    fn accepted_paths_stay_inside_the_root(pieces in prop::collection::vec(piece(), 0..12)) {
        let raw: String = pieces.concat();
        if let Ok(path) = ArtifactPath::parse(&raw) {
            let text = path.as_str();
            prop_assert!(!text.starts_with('/'), "{raw:?} -> {text:?}");
            prop_assert!(!text.contains('\\') && !text.contains('\0') && !text.contains('#') && !text.contains('?'));
            for segment in text.split('/') {
                prop_assert!(!segment.is_empty() || text.is_empty(), "{raw:?} -> {text:?}");
                prop_assert!(segment != ".." && segment != ".", "{raw:?} -> {text:?}");
            }
            // What we accept is already decoded to a fixed point: decoding it again changes nothing
            // that matters, so a lower layer cannot reinterpret it.
            let again = ArtifactPath::parse(text).expect("a normalised path parses again");
            prop_assert_eq!(again.as_str(), text);
            // And it stays below the root as a filesystem path.
            let joined = std::path::Path::new("/root").join(text);
            prop_assert!(joined.starts_with("/root"));
            prop_assert!(joined.components().all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_))));
        }
    }
}
