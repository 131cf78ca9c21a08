//! Optional authentication (`--auth-file`): HTTP Basic users and bearer tokens, required on every route except the probes, over HTTP and OTLP/gRPC alike.
//!
//! Credentials come as the mlflow client sends them (`MLFLOW_TRACKING_USERNAME`/`PASSWORD` →
//! `Authorization: Basic`, `MLFLOW_TRACKING_TOKEN` → `Authorization: Bearer`) and as OTLP
//! exporters send headers or gRPC metadata (`authorization`). The file holds only hashes:
//!
//! ```text
//! # Rivulet credentials. Blank lines and lines starting with # are ignored.
//! user:alice:$argon2id$v=19$m=19456,t=2,p=1$…      # from `rivulet auth hash-password`
//! token:otel-collector:3f0a…(64 hex digits)         # SHA-256 of the token, from `rivulet auth new-token`
//! ```
//!
//! Passwords are argon2 (slow on purpose, so a stolen file does not give them away); tokens are
//! long random strings, for which a SHA-256 digest is enough. A successful Basic check is cached
//! in memory (keyed by a keyed digest of the header, never the password) so the client's
//! per-request header does not pay argon2 each time; failed checks are never cached, and at most
//! a few run at once so a flood of wrong passwords cannot take every core.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderValue;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Who a request authenticated as (put in the request's extensions for handlers and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(String),
    Token(String),
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::User(name) | Principal::Token(name) => name,
        }
    }
}

/// Why a request was not authenticated. Messages never echo what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Malformed,
    UnsupportedScheme,
    BadCredentials,
}

impl AuthFailure {
    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => {
                "Authentication required: send HTTP Basic credentials (MLFLOW_TRACKING_USERNAME and \
                 MLFLOW_TRACKING_PASSWORD) or a bearer token (MLFLOW_TRACKING_TOKEN)"
            }
            AuthFailure::Malformed => "The Authorization header is malformed",
            AuthFailure::UnsupportedScheme => "Unsupported authorization scheme: use Basic or Bearer",
            AuthFailure::BadCredentials => "Invalid username, password or token",
        }
    }

    /// A short label for logs and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::UnsupportedScheme => "unsupported_scheme",
            AuthFailure::BadCredentials => "bad_credentials",
        }
    }
}

struct User {
    name: String,
    /// An argon2 PHC string, validated when the file is read.
    hash: String,
}

struct Token {
    name: String,
    digest: [u8; 32],
}

/// How long a successful Basic check is remembered.
const CACHE_TTL: Duration = Duration::from_secs(600);
/// Cached credentials at most; the cache is emptied when full (it only saves work).
const CACHE_CAPACITY: usize = 4096;

/// The credentials of `--auth-file`, and the checks against them.
pub struct Authenticator {
    /// Where the credentials came from, for messages.
    source: String,
    users: Vec<User>,
    tokens: Vec<Token>,
    /// Checked against when the user name is unknown, so an unknown name costs as much as a
    /// wrong password and timing does not reveal which names exist.
    decoy_hash: String,
    cache_key: [u8; 32],
    cache: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    verify_slots: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names and counts only: never hashes.
        f.debug_struct("Authenticator")
            .field("source", &self.source)
            .field("users", &self.users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>())
            .field("tokens", &self.tokens.iter().map(|t| t.name.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && name.chars().all(|c| !c.is_control() && !c.is_whitespace())
}

fn decode_hex_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (idx, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(idx * 2..idx * 2 + 2)?, 16).ok()?;
    }
    Some(digest)
}

impl Authenticator {
    /// Reads an auth file. Errors name the file and line and say how to fix it.
    pub fn from_file(path: &std::path::Path) -> Result<Authenticator, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read --auth-file {}: {error}; check the path and that the server may read it", path.display()))?;
        Authenticator::parse(&text, &format!("--auth-file {}", path.display()))
    }

    /// Parses the auth file format (see the module documentation).
    pub fn parse(text: &str, source: &str) -> Result<Authenticator, String> {
        let mut users: Vec<User> = Vec::new();
        let mut tokens: Vec<Token> = Vec::new();
        for (idx, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |why: String| format!("{source}, line {}: {why}", idx + 1);
            let mut parts = line.splitn(3, ':');
            let (kind, name, secret) = match (parts.next(), parts.next(), parts.next()) {
                (Some(kind), Some(name), Some(secret)) => (kind.trim(), name.trim(), secret.trim()),
                _ => return Err(at("expected user:<name>:<password hash> or token:<name>:<sha256 hex>".to_string())),
            };
            if !valid_name(name) {
                return Err(at("the name is empty or contains spaces or control characters".to_string()));
            }
            match kind {
                "user" => {
                    let valid = PasswordHash::new(secret).ok().is_some_and(|hash| hash.algorithm.as_str().starts_with("argon2"));
                    if !valid {
                        // Never echo the value: it may be a password pasted by mistake.
                        return Err(at(format!(
                            "the password of user '{name}' is not an argon2 hash; plaintext passwords are not accepted. \
                             Make the hash with `rivulet auth hash-password`"
                        )));
                    }
                    if users.iter().any(|u| u.name == name) {
                        return Err(at(format!("user '{name}' is listed twice")));
                    }
                    users.push(User { name: name.to_string(), hash: secret.to_string() });
                }
                "token" => {
                    let Some(digest) = decode_hex_digest(secret) else {
                        return Err(at(format!(
                            "the token '{name}' must be given as the 64-digit hex SHA-256 of the token, not the token \
                             itself. Make one with `rivulet auth new-token`, or hash an existing token with \
                             `rivulet auth hash-token`"
                        )));
                    };
                    if tokens.iter().any(|t| t.name == name) {
                        return Err(at(format!("token '{name}' is listed twice")));
                    }
                    tokens.push(Token { name: name.to_string(), digest });
                }
                other => return Err(at(format!("unknown entry kind '{}' (expected user or token)", other.chars().take(20).collect::<String>()))),
            }
        }
        if users.is_empty() && tokens.is_empty() {
            return Err(format!(
                "{source} defines no users or tokens, so every request would be refused; add a \
                 user:<name>:<hash> line (`rivulet auth hash-password`) or a token line (`rivulet auth new-token`)"
            ));
        }
        let mut cache_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut cache_key);
        let mut decoy = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut decoy);
        let decoy_hash = hash_password(&base64::engine::general_purpose::STANDARD.encode(decoy))?;
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get().div_ceil(2)).max(1);
        Ok(Authenticator {
            source: source.to_string(),
            users,
            tokens,
            decoy_hash,
            cache_key,
            cache: Mutex::new(HashMap::new()),
            verify_slots: tokio::sync::Semaphore::new(slots),
        })
    }

    /// Where the credentials came from (`--auth-file PATH`).
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    pub fn n_tokens(&self) -> usize {
        self.tokens.len()
    }

    /// Checks an `Authorization` header value.
    pub async fn authenticate(&self, authorization: Option<&HeaderValue>) -> Result<Principal, AuthFailure> {
        let value = authorization.ok_or(AuthFailure::Missing)?;
        let text = value.to_str().map_err(|_| AuthFailure::Malformed)?.trim();
        let (scheme, credentials) = text.split_once(' ').ok_or(AuthFailure::Malformed)?;
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.check_token(credentials).ok_or(AuthFailure::BadCredentials);
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(AuthFailure::UnsupportedScheme);
        }
        let key = self.cache_digest(value.as_bytes());
        if let Some(principal) = self.cached(&key) {
            return Ok(principal);
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(credentials).map_err(|_| AuthFailure::Malformed)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthFailure::Malformed)?;
        let (name, password) = decoded.split_once(':').ok_or(AuthFailure::Malformed)?;
        let user = self.users.iter().find(|u| u.name == name);
        let hash = user.map_or_else(|| self.decoy_hash.clone(), |u| u.hash.clone());
        let password = password.to_string();
        let verified = {
            let _slot = self.verify_slots.acquire().await.map_err(|_| AuthFailure::BadCredentials)?;
            tokio::task::spawn_blocking(move || verify_password(&hash, &password)).await.unwrap_or(false)
        };
        match user {
            Some(user) if verified => {
                let principal = Principal::User(user.name.clone());
                self.remember(key, principal.clone());
                Ok(principal)
            }
            _ => Err(AuthFailure::BadCredentials),
        }
    }

    fn check_token(&self, token: &str) -> Option<Principal> {
        if token.is_empty() {
            return None;
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Compare against every token in constant time, without stopping at a match.
        let mut found = None;
        for candidate in &self.tokens {
            let equal = bool::from(candidate.digest.ct_eq(&digest));
            if equal && found.is_none() {
                found = Some(Principal::Token(candidate.name.clone()));
            }
        }
        found
    }

    fn cache_digest(&self, header: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.cache_key);
        hasher.update(header);
        hasher.finalize().into()
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Principal> {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match cache.get(key) {
            Some((principal, at)) if at.elapsed() < CACHE_TTL => Some(principal.clone()),
            _ => None,
        }
    }

    fn remember(&self, key: [u8; 32], principal: Principal) {
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(key, (principal, Instant::now()));
    }
}

fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// An argon2id hash (PHC string) of `password` for a `user:` line.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|error| format!("cannot encode a salt: {error}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| format!("cannot hash the password: {error}"))
}

/// The hex SHA-256 of a token, for a `token:` line.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random bearer token (256 bits, URL-safe base64).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_format_refuses_plaintext_and_empty_files() {
        let error = Authenticator::parse("user:alice:hunter2hunter2", "test").unwrap_err();
        assert!(error.contains("line 1") && error.contains("rivulet auth hash-password") && !error.contains("hunter2"), "{error}");
        let error = Authenticator::parse("token:ci:my-secret-token", "test").unwrap_err();
        assert!(error.contains("rivulet auth new-token") && !error.contains("my-secret-token"), "{error}");
        assert!(Authenticator::parse("# nothing\n\n", "test").unwrap_err().contains("defines no users or tokens"));
        assert!(Authenticator::parse("group:x:y", "test").unwrap_err().contains("unknown entry kind"));
        let ok = format!("# comment\r\ntoken:ci:{}\r\n", hash_token("t"));
        assert_eq!(Authenticator::parse(&ok, "test").unwrap().n_tokens(), 1);
    }

    #[tokio::test]
    async fn basic_and_bearer() {
        let text = format!("user:alice:{}\ntoken:ci:{}\n", hash_password("correct horse").unwrap(), hash_token("tok-123"));
        let auth = Authenticator::parse(&text, "test").unwrap();
        let basic = |user: &str, pass: &str| {
            HeaderValue::from_str(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))).unwrap()
        };
        assert_eq!(auth.authenticate(Some(&basic("alice", "correct horse"))).await, Ok(Principal::User("alice".into())));
        // Second time from the cache.
        assert_eq!(auth.authenticate(Some(&basic("alice", "correct horse"))).await, Ok(Principal::User("alice".into())));
        assert_eq!(auth.authenticate(Some(&basic("alice", "wrong"))).await, Err(AuthFailure::BadCredentials));
        assert_eq!(auth.authenticate(Some(&basic("bob", "correct horse"))).await, Err(AuthFailure::BadCredentials));
        let bearer = HeaderValue::from_static("Bearer tok-123");
        assert_eq!(auth.authenticate(Some(&bearer)).await, Ok(Principal::Token("ci".into())));
        assert_eq!(auth.authenticate(Some(&HeaderValue::from_static("bearer nope"))).await, Err(AuthFailure::BadCredentials));
        assert_eq!(auth.authenticate(None).await, Err(AuthFailure::Missing));
        assert_eq!(auth.authenticate(Some(&HeaderValue::from_static("Digest x"))).await, Err(AuthFailure::UnsupportedScheme));
        assert_eq!(auth.authenticate(Some(&HeaderValue::from_static("Basic !!!"))).await, Err(AuthFailure::Malformed));
    }
}
