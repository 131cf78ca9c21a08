//! Artifact path safety: the one place a client-supplied artifact path becomes a storage key.
//!
//! Pure code, no I/O. Every path that reaches a backend went through [`ArtifactPath::parse`],
//! so a storage key can only ever name something below the artifact root. The rules follow
//! MLflow 3.17's `validate_path_is_safe` and close the holes listed in `security-history.md`:
//! decoding runs until the text is stable (double and triple encoding), and anything that could
//! change meaning in some layer below us (`..`, `\`, `#`, `?`, `;`, control characters,
//! absolute paths, drive letters, URI schemes) is refused rather than interpreted.

use std::fmt;

use percent_encoding::percent_decode_str;

/// How many rounds of percent-decoding we accept before calling a path hostile. MLflow uses 10.
const MAX_DECODE_ROUNDS: usize = 10;
/// S3 keys are at most 1024 bytes; the same bound keeps local paths far from `PATH_MAX`.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest single file or directory name most filesystems accept.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Why a path was refused. Clients only ever see "Invalid path"; the reason is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Still changing after [`MAX_DECODE_ROUNDS`] rounds of percent-decoding.
    EndlessEncoding,
    /// The decoded bytes are not UTF-8 (e.g. `%ff`, overlong `%c0%ae`).
    NotUtf8,
    /// NUL or another control character.
    ControlCharacter,
    /// `\`: a separator on Windows, so `..\` would be a parent reference there.
    Backslash,
    /// `#`, `?` or `;`: fragment, query or path parameters smuggled into the path.
    UrlDelimiter,
    /// Starts with `/`: an absolute path.
    Absolute,
    /// A drive letter (`C:`) or a URI scheme (`file:`, `s3://`).
    SchemeOrDrive,
    /// A `..` segment.
    ParentReference,
    /// Longer than [`MAX_PATH_BYTES`] or with a segment longer than [`MAX_SEGMENT_BYTES`].
    TooLong,
}

/// A refused path. Displays as MLflow's message, `Invalid path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPath {
    pub rejection: Rejection,
}

impl fmt::Display for InvalidPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid path")
    }
}

impl std::error::Error for InvalidPath {}

fn reject<T>(rejection: Rejection) -> Result<T, InvalidPath> {
    Err(InvalidPath { rejection })
}

/// A validated, normalised path relative to an artifact root: `/`-separated names, none of them
/// empty, `.` or `..`. The empty path is the root itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ArtifactPath {
    joined: String,
    /// The client's text ended in `/` (or `/.`): it names a directory, never a file to write.
    trailing_slash: bool,
}

/// Percent-decodes until the text stops changing, as MLflow does, so that `%252e%252e` is
/// judged as the `..` it eventually becomes in some layer that decodes once more.
fn decode_until_stable(raw: &str) -> Result<String, InvalidPath> {
    let mut current = raw.to_string();
    for _ in 0..MAX_DECODE_ROUNDS {
        let decoded = match percent_decode_str(&current).decode_utf8() {
            Ok(text) => text.into_owned(),
            Err(_) => return reject(Rejection::NotUtf8),
        };
        if decoded == current {
            return Ok(current);
        }
        current = decoded;
    }
    reject(Rejection::EndlessEncoding)
}

/// `C:`, `c:x`, `file:…`, `s3://…`, `mlflow-artifacts:/…`: anything a URI parser or Windows would
/// read as a scheme or drive rather than a name. A colon later in a name (`12:30.txt`,
/// `model:v1/x`) stays legal.
fn looks_like_scheme_or_drive(first_segment: &str, whole: &str) -> bool {
    let Some((scheme, rest)) = first_segment.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    let valid_scheme = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return false;
    }
    // A one-letter scheme is a drive letter; `file:` is always a local path in disguise; a
    // scheme followed by `/` (`s3:/`, `http://`) addresses something other than a name here.
    scheme.len() == 1 || scheme.eq_ignore_ascii_case("file") || (rest.is_empty() && whole.len() > first_segment.len())
}

impl ArtifactPath {
    /// The artifact root itself.
    pub fn root() -> ArtifactPath {
        ArtifactPath::default()
    }

    /// Validates and normalises a client-supplied path (URL path segment or `?path=` value,
    /// already decoded once or not at all). Empty and `.` segments are dropped (`a//b` is `a/b`);
    /// everything in [`Rejection`] is refused.
    pub fn parse(raw: &str) -> Result<ArtifactPath, InvalidPath> {
        let decoded = decode_until_stable(raw)?;
        for c in decoded.chars() {
            if c.is_control() {
                return reject(Rejection::ControlCharacter);
            }
            if c == '\\' {
                return reject(Rejection::Backslash);
            }
            if matches!(c, '#' | '?' | ';') {
                return reject(Rejection::UrlDelimiter);
            }
        }
        if decoded.starts_with('/') {
            return reject(Rejection::Absolute);
        }
        let first_segment = decoded.split('/').next().unwrap_or_default();
        if looks_like_scheme_or_drive(first_segment, &decoded) {
            return reject(Rejection::SchemeOrDrive);
        }
        let mut names: Vec<&str> = Vec::new();
        for segment in decoded.split('/') {
            match segment {
                "" | "." => continue,
                ".." => return reject(Rejection::ParentReference),
                name if name.len() > MAX_SEGMENT_BYTES => return reject(Rejection::TooLong),
                name => names.push(name),
            }
        }
        let joined = names.join("/");
        if joined.len() > MAX_PATH_BYTES {
            return reject(Rejection::TooLong);
        }
        // Dropping `.` segments can bring a drive or scheme to the front (`./C:` is `C:`).
        let first_name = joined.split('/').next().unwrap_or_default();
        if looks_like_scheme_or_drive(first_name, &joined) {
            return reject(Rejection::SchemeOrDrive);
        }
        let trailing_slash = decoded.ends_with('/') || decoded.ends_with("/.") || decoded == ".";
        Ok(ArtifactPath { joined, trailing_slash })
    }

    /// Parses an optional path: absent or empty means the root.
    pub fn parse_optional(raw: Option<&str>) -> Result<ArtifactPath, InvalidPath> {
        match raw {
            None => Ok(ArtifactPath::root()),
            Some(raw) => ArtifactPath::parse(raw),
        }
    }

    pub fn is_root(&self) -> bool {
        self.joined.is_empty()
    }

    /// The normalised path, `a/b/c`; empty for the root.
    pub fn as_str(&self) -> &str {
        &self.joined
    }

    /// Whether the client's text ended in a separator (so it cannot name a file to write).
    pub fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The names from the root down.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.joined.split('/').filter(|s| !s.is_empty())
    }

    /// The last name, if this is not the root.
    pub fn file_name(&self) -> Option<&str> {
        self.segments().last()
    }

    /// `self/other`. Both are already valid, so the result is too.
    pub fn join(&self, other: &ArtifactPath) -> ArtifactPath {
        let joined = match (self.is_root(), other.is_root()) {
            (true, _) => other.joined.clone(),
            (false, true) => self.joined.clone(),
            (false, false) => format!("{}/{}", self.joined, other.joined),
        };
        ArtifactPath { joined, trailing_slash: other.trailing_slash || (other.is_root() && self.trailing_slash) }
    }

    /// `self/name` for a single name read back from storage (a listing entry). Names that could
    /// not have been written through [`ArtifactPath::parse`] are refused, so a hostile name placed
    /// directly in storage cannot be echoed into a path.
    pub fn child(&self, name: &str) -> Result<ArtifactPath, InvalidPath> {
        if name.contains('/') || name.contains('%') {
            return reject(Rejection::UrlDelimiter);
        }
        let child = ArtifactPath::parse(name)?;
        if child.is_root() {
            return reject(Rejection::ParentReference);
        }
        Ok(self.join(&child))
    }

    /// The path relative to `base` if it lies at or below it.
    pub fn strip_prefix(&self, base: &ArtifactPath) -> Option<ArtifactPath> {
        if base.is_root() {
            return Some(ArtifactPath { joined: self.joined.clone(), trailing_slash: self.trailing_slash });
        }
        if self.joined == base.joined {
            return Some(ArtifactPath { joined: String::new(), trailing_slash: self.trailing_slash });
        }
        let rest = self.joined.strip_prefix(&base.joined)?.strip_prefix('/')?;
        Some(ArtifactPath { joined: rest.to_string(), trailing_slash: self.trailing_slash })
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(raw: &str) -> Rejection {
        ArtifactPath::parse(raw).expect_err(raw).rejection
    }

    #[test]
    fn normal_paths_are_kept() {
        assert_eq!(ArtifactPath::parse("1/abc/artifacts/model.pkl").unwrap().as_str(), "1/abc/artifacts/model.pkl");
        assert_eq!(ArtifactPath::parse("a//b/./c").unwrap().as_str(), "a/b/c");
        assert_eq!(ArtifactPath::parse("").unwrap(), ArtifactPath::root());
        assert_eq!(ArtifactPath::parse("12:30 ré sumé.txt").unwrap().as_str(), "12:30 ré sumé.txt");
        assert_eq!(ArtifactPath::parse("...").unwrap().as_str(), "...");
        assert_eq!(ArtifactPath::parse("a%20b").unwrap().as_str(), "a b");
        assert_eq!(ArtifactPath::parse("100%").unwrap().as_str(), "100%");
        assert!(ArtifactPath::parse("dir/").unwrap().has_trailing_slash());
        assert!(!ArtifactPath::parse("dir/x").unwrap().has_trailing_slash());
    }

    #[test]
    fn traversal_is_refused() {
        assert_eq!(rejection(".."), Rejection::ParentReference);
        assert_eq!(rejection("a/../../x"), Rejection::ParentReference);
        assert_eq!(rejection("%2e%2e/x"), Rejection::ParentReference);
        assert_eq!(rejection("%252e%252e%252fx"), Rejection::ParentReference);
        assert_eq!(rejection("..\\x"), Rejection::Backslash);
        assert_eq!(rejection("/etc/passwd"), Rejection::Absolute);
        assert_eq!(rejection("C:/x"), Rejection::SchemeOrDrive);
        assert_eq!(rejection("file:///etc/passwd"), Rejection::SchemeOrDrive);
        assert_eq!(rejection("%2e/C:"), Rejection::SchemeOrDrive, "a drive behind a dot segment");
        assert_eq!(rejection(".//file:x"), Rejection::SchemeOrDrive);
        assert_eq!(rejection("a\0b"), Rejection::ControlCharacter);
        assert_eq!(rejection("a#b"), Rejection::UrlDelimiter);
        assert_eq!(rejection("%ff"), Rejection::NotUtf8);
    }

    #[test]
    fn child_names_from_storage_are_checked() {
        let dir = ArtifactPath::parse("a").unwrap();
        assert_eq!(dir.child("b.txt").unwrap().as_str(), "a/b.txt");
        assert!(dir.child("..").is_err());
        assert!(dir.child(".").is_err());
        assert!(dir.child("x%2f..").is_err());
    }

    #[test]
    fn strip_prefix_respects_segment_boundaries() {
        let base = ArtifactPath::parse("1/run/artifacts").unwrap();
        let inside = ArtifactPath::parse("1/run/artifacts/x/y").unwrap();
        let sibling = ArtifactPath::parse("1/run/artifactsX/y").unwrap();
        assert_eq!(inside.strip_prefix(&base).unwrap().as_str(), "x/y");
        assert!(sibling.strip_prefix(&base).is_none());
    }
}
