//! The Host check (`--allowed-hosts`): refuses requests whose Host header names a host this server was not told it answers to, which is what defeats DNS rebinding.
//!
//! A rebinding attack needs a name the attacker controls in public DNS. Names that cannot come
//! from public DNS — IP literals in loopback/private ranges, `localhost`, single-label names and
//! in-cluster Kubernetes names — are therefore always admitted, so a pod works behind its Service
//! with no flag and `--allowed-hosts` only lists the ingress host. Unlike MLflow, a listed name
//! without a port admits that name on any port, and names are compared case-insensitively.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The parsed `--allowed-hosts` list.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// `*` was listed: every Host is admitted (the check is off).
    any: bool,
    entries: Vec<HostEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HostEntry {
    name: NamePattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NamePattern {
    Exact(String),
    /// `*.example.com`, kept as `.example.com`: any name ending in it (not `example.com` itself).
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Any,
    Exactly(u16),
}

/// MLflow's default glob entries. Their hosts are always admitted here (as parsed addresses,
/// not string prefixes, so `10.evil.com` is not), so an MLflow configuration that still lists
/// them keeps working.
const MLFLOW_DEFAULT_GLOBS: &[&str] = &[
    "10.*", "192.168.*", "172.16.*", "172.17.*", "172.18.*", "172.19.*", "172.20.*", "172.21.*", "172.22.*", "172.23.*",
    "172.24.*", "172.25.*", "172.26.*", "172.27.*", "172.28.*", "172.29.*", "172.30.*", "172.31.*", "fc00:*", "fd00:*",
    "[[]::1]:*",
];

impl HostPolicy {
    /// Parses a comma-separated `--allowed-hosts` value. Entries: `name`, `name:port`,
    /// `name:*`, `*.domain` (optionally with a port), IP literals (`[v6]` bracketed), or `*`
    /// alone to turn the check off. Errors say which entry is wrong and how to write it.
    pub fn parse(list: &str) -> Result<HostPolicy, String> {
        let mut policy = HostPolicy::default();
        for raw in list.split(',') {
            let entry = raw.trim();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                policy.any = true;
                continue;
            }
            if MLFLOW_DEFAULT_GLOBS.contains(&entry) {
                continue;
            }
            policy.entries.push(parse_entry(entry)?);
        }
        Ok(policy)
    }

    /// `*` was listed, so no Host is refused.
    pub fn allows_any(&self) -> bool {
        self.any
    }

    /// Whether a request with this Host header value may be served.
    pub fn allows(&self, host_header: &str) -> bool {
        if self.any {
            return true;
        }
        let Some(host) = split_host(host_header.trim(), false) else {
            return false;
        };
        let port = match host.port {
            None => None,
            Some(PortSpec::Number(port)) => Some(port),
            Some(PortSpec::Any) => return false,
        };
        always_admitted(&host.name) || self.entries.iter().any(|entry| entry.admits(&host.name, port))
    }
}

impl HostEntry {
    fn admits(&self, name: &str, port: Option<u16>) -> bool {
        let name_matches = match &self.name {
            NamePattern::Exact(exact) => exact == name,
            NamePattern::Subdomains(suffix) => name.len() > suffix.len() && name.ends_with(suffix.as_str()),
        };
        let port_matches = match (self.port, port) {
            (PortPattern::Any, _) => true,
            (PortPattern::Exactly(wanted), Some(port)) => wanted == port,
            // Browsers leave the default port out of Host, and behind a TLS-terminating proxy
            // the scheme is unknown here: an entry for port 80 or 443 admits a port-less Host.
            (PortPattern::Exactly(wanted), None) => wanted == 80 || wanted == 443,
        };
        name_matches && port_matches
    }
}

fn parse_entry(entry: &str) -> Result<HostEntry, String> {
    let invalid = |why: &str| {
        format!(
            "--allowed-hosts entry '{entry}' is not valid: {why}. Write a host name (mlflow.example.com, which admits any \
             port), a name with a port (mlflow.example.com:443), subdomains (*.example.com), or * to turn the check off"
        )
    };
    let Some(host) = split_host(entry, true) else {
        return Err(invalid("it is not a host name, host:port or bracketed IPv6 address"));
    };
    let port = match host.port {
        None | Some(PortSpec::Any) => PortPattern::Any,
        Some(PortSpec::Number(port)) => PortPattern::Exactly(port),
    };
    let name = if let Some(domain) = host.name.strip_prefix("*.") {
        if domain.contains('*') || !domain.contains('.') {
            return Err(invalid("'*' may only stand for the whole first label of a domain with at least two labels, as in *.example.com"));
        }
        NamePattern::Subdomains(format!(".{domain}"))
    } else if host.name.contains('*') {
        return Err(invalid("'*' may only stand for the whole first label (*.example.com) or the port (example.com:*)"));
    } else {
        NamePattern::Exact(host.name)
    };
    Ok(HostEntry { name, port })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortSpec {
    Number(u16),
    /// `:*` in an entry.
    Any,
}

#[derive(Debug)]
struct Host {
    /// Lower-case, without a trailing dot; an IPv6 address without its brackets.
    name: String,
    port: Option<PortSpec>,
}

/// Splits `name[:port]` or `[v6][:port]`. `pattern` admits `*` (in entries, never in requests).
fn split_host(value: &str, pattern: bool) -> Option<Host> {
    let (name, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':')?),
        };
        (inside.to_ascii_lowercase(), port)
    } else {
        match value.split_once(':') {
            // A bare IPv6 address has several colons; RFC 9110 requires brackets in Host.
            Some((_, rest)) if rest.contains(':') => return None,
            Some((name, port)) => (name.to_ascii_lowercase(), Some(port)),
            None => (value.to_ascii_lowercase(), None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some("*") if pattern => Some(PortSpec::Any),
        Some(port) if port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) => Some(PortSpec::Number(port.parse().ok()?)),
        Some(_) => return None,
    };
    let name = name.strip_suffix('.').map(str::to_string).unwrap_or(name);
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':') || (pattern && c == '*');
    if name.is_empty() || !name.chars().all(valid_char) || name.starts_with('.') || name.contains("..") {
        return None;
    }
    Some(Host { name, port })
}

/// Hosts no attacker can make a browser send through public DNS.
fn always_admitted(name: &str) -> bool {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) => local_v4(v4),
            IpAddr::V6(v6) => local_v6(v6),
        };
    }
    if name.contains(':') {
        return false;
    }
    name == "localhost"
        || name.ends_with(".localhost")
        // A single-label name (a Service's short name, a machine on the LAN) is resolved by the
        // local search path, never by a public zone an attacker could own.
        || !name.contains('.')
        // Kubernetes in-cluster names: `svc.ns.svc`, `svc.ns.svc.cluster.local`, pod names.
        || name.ends_with(".svc")
        || name.ends_with(".cluster.local")
}

fn local_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        // 100.64.0.0/10, the shared address space some clusters give pods and services.
        || (a == 100 && (64..128).contains(&b))
}

fn local_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return local_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        // fc00::/7 unique local, fe80::/10 link-local.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// The Host header value made safe to echo in a plain-text message and a log line.
pub(crate) fn shown(value: &str) -> String {
    let cleaned: String = value.chars().filter(|c| c.is_ascii_graphic()).take(200).collect();
    cleaned
}

/// The name part of a Host value, to suggest as an `--allowed-hosts` entry.
pub(crate) fn suggested_entry(value: &str) -> String {
    match split_host(value.trim(), false) {
        Some(host) if host.name.contains(':') => format!("[{}]", host.name),
        Some(host) => host.name,
        None => shown(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_refuse_globs_that_would_match_prefixes() {
        let policy = HostPolicy::parse(" mlflow.example.com , api.example.com:8443,*.corp.example, [2001:db8::1]:443,other:*,").unwrap();
        assert_eq!(policy.entries.len(), 5);
        assert!(HostPolicy::parse("mlflow*.example.com").is_err());
        assert!(HostPolicy::parse("example.com:http").is_err());
        assert!(HostPolicy::parse("2001:db8::1").is_err());
        // MLflow's defaults are accepted and ignored: what they meant is always admitted.
        assert!(HostPolicy::parse("10.*,192.168.*,localhost:*,127.0.0.1:*").unwrap().entries.len() == 2);
    }

    #[test]
    fn ip_ranges() {
        for host in ["127.0.0.1", "127.1.2.3:80", "10.0.0.1", "172.16.5.4:5000", "192.168.1.1", "100.64.1.1", "[::1]:5000", "[fd12::1]", "[::ffff:10.1.2.3]", "0.0.0.0:1"] {
            assert!(HostPolicy::default().allows(host), "{host}");
        }
        for host in ["172.15.0.1", "8.8.8.8", "[2001:db8::1]", "10.evil.com", "192.168.1.1.nip.io"] {
            assert!(!HostPolicy::default().allows(host), "{host}");
        }
    }
}
