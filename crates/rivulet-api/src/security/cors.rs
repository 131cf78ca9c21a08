//! Cross-origin rules (`--cors-allowed-origins`): which browser origins may call the server, CORS preflight answers, and server-side refusal of cross-origin writes.
//!
//! CORS headers alone only stop a page from *reading* a response; a "simple" cross-origin POST
//! still reaches the server and acts (CVE-2023-43472). So state-changing requests carrying an
//! `Origin` that is neither this server's own, a localhost origin, nor a listed one are refused
//! before they reach a handler — on every route, including the UI's forms, artifacts and OTLP.

use axum::http::{HeaderMap, Method};

/// The parsed `--cors-allowed-origins` list.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    /// `*`: any origin may call, without credentials, and nothing is blocked.
    any: bool,
    origins: Vec<OriginPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OriginPattern {
    scheme: String,
    host: HostPattern,
    /// `None` is the scheme's default port; `Some(None)` is `:*`.
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.example.com`, kept as `.example.com`.
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Default,
    Any,
    Exactly(u16),
}

/// An `Origin` header value, split.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Splits `scheme://host[:port]` (no path); `pattern` admits `*` for the first label and port.
fn split_origin(value: &str, pattern: bool) -> Option<(String, String, Option<&str>)> {
    let (scheme, rest) = value.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (inside, after) = inner.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        let port = if after.is_empty() { None } else { Some(after.strip_prefix(':')?) };
        (format!("[{}]", inside.to_ascii_lowercase()), port)
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
            None => (rest.to_ascii_lowercase(), None),
        }
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '[' | ']' | ':') || (pattern && c == '*');
    if host.is_empty() || !host.chars().all(valid) {
        return None;
    }
    Some((scheme, host, port))
}

fn parse_origin(value: &str) -> Option<Origin> {
    let (scheme, host, port) = split_origin(value.trim(), false)?;
    let port = match port {
        None => None,
        Some(port) if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) => Some(port.parse().ok()?),
        Some(_) => return None,
    };
    Some(Origin { scheme, host, port })
}

impl CorsPolicy {
    /// Parses a comma-separated `--cors-allowed-origins` value: origins such as
    /// `https://app.example.com`, `http://localhost:3000`, `https://*.example.com`,
    /// `http://host:*`, or `*` for any origin.
    pub fn parse(list: &str) -> Result<CorsPolicy, String> {
        let mut policy = CorsPolicy::default();
        for raw in list.split(',') {
            let entry = raw.trim().trim_end_matches('/');
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                policy.any = true;
                continue;
            }
            let invalid = |why: &str| {
                format!(
                    "--cors-allowed-origins entry '{entry}' is not valid: {why}. Write origins as the browser sends them: \
                     scheme://host[:port] without a path (https://app.example.com, http://localhost:3000), optionally \
                     https://*.example.com or http://host:*, or * for any origin"
                )
            };
            let Some((scheme, host, port)) = split_origin(entry, true) else {
                return Err(invalid("it is not scheme://host[:port]"));
            };
            let host = match host.strip_prefix("*.") {
                Some(domain) if !domain.contains('*') && domain.contains('.') => HostPattern::Subdomains(format!(".{domain}")),
                Some(_) => return Err(invalid("'*' may only stand for the first label of a domain, as in https://*.example.com")),
                None if host.contains('*') => {
                    return Err(invalid("'*' may only stand for the first label (https://*.example.com) or the port (http://host:*)"))
                }
                None => HostPattern::Exact(host),
            };
            let port = match port {
                None => PortPattern::Default,
                Some("*") => PortPattern::Any,
                Some(port) => match port.parse::<u16>() {
                    Ok(port) => PortPattern::Exactly(port),
                    Err(_) => return Err(invalid("the port is not a number")),
                },
            };
            policy.origins.push(OriginPattern { scheme, host, port });
        }
        Ok(policy)
    }

    /// `*` was listed: responses allow any origin (without credentials) and nothing is blocked.
    pub fn allows_any(&self) -> bool {
        self.any
    }

    /// Whether a browser page at `origin` may call this server. `headers` are the request's,
    /// to recognise the server's own origin (its Host, or the Host a proxy forwarded).
    pub fn allows(&self, origin: &str, headers: &HeaderMap) -> bool {
        if self.any {
            return true;
        }
        let Some(parsed) = parse_origin(origin) else {
            // `null` (sandboxed frames, file:// pages) and anything unparsable.
            return false;
        };
        if matches!(parsed.host.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
            return true;
        }
        if same_origin(origin, headers) {
            return true;
        }
        self.origins.iter().any(|pattern| pattern.matches(&parsed))
    }
}

impl OriginPattern {
    fn matches(&self, origin: &Origin) -> bool {
        let host = match &self.host {
            HostPattern::Exact(host) => *host == origin.host,
            HostPattern::Subdomains(suffix) => origin.host.len() > suffix.len() && origin.host.ends_with(suffix.as_str()),
        };
        let effective = origin.port.or_else(|| default_port(&origin.scheme));
        let port = match self.port {
            PortPattern::Any => true,
            PortPattern::Default => effective == default_port(&self.scheme),
            PortPattern::Exactly(port) => effective == Some(port),
        };
        self.scheme == origin.scheme && host && port
    }
}

/// The page's origin is this server: its authority equals the request's Host (or the Host a
/// reverse proxy forwarded). The Host itself has passed the host check by then.
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some((_, authority)) = origin.trim().split_once("://") else {
        return false;
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let forwarded = header("x-forwarded-host").and_then(|v| v.split(',').next()).map(str::trim);
    [header("host"), forwarded].into_iter().flatten().any(|host| host.eq_ignore_ascii_case(authority))
}

/// Methods that change state; only these are refused cross-origin.
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        headers
    }

    #[test]
    fn matching() {
        let policy = CorsPolicy::parse("https://app.example.com, https://*.corp.example,http://dev.example:*").unwrap();
        let h = headers("mlflow.example.com");
        assert!(policy.allows("https://app.example.com", &h));
        assert!(policy.allows("https://app.example.com:443", &h));
        assert!(!policy.allows("http://app.example.com", &h));
        assert!(!policy.allows("https://app.example.com:8443", &h));
        assert!(policy.allows("https://a.b.corp.example", &h));
        assert!(!policy.allows("https://corp.example", &h));
        assert!(policy.allows("http://dev.example:3000", &h));
        assert!(policy.allows("http://localhost:3000", &h));
        assert!(policy.allows("https://mlflow.example.com", &h));
        assert!(!policy.allows("https://evil.com", &h));
        assert!(!policy.allows("null", &h));
        assert!(CorsPolicy::parse("https://a.example.com/path").is_err());
        assert!(CorsPolicy::parse("app.example.com").is_err());
        assert!(CorsPolicy::parse("https://app*.example.com").is_err());
    }
}
