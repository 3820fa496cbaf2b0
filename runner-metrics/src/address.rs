//! `listen_address` parsing with the seed's `[host]:<port>` rules (M3) and the loopback check
//! behind the "exposed without authentication" warning (M5).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// A parsed `listen_address` of the metrics server.
///
/// Accepted forms: `host:port`, `:port` (all interfaces), `[ipv6]:port`, and each of them
/// without the port (`localhost`, `[::1]`), which means port 9252. The host is an IP literal or
/// a host name resolved at bind time; the port is a number or a service name (`http`, `https`,
/// ...). Port `0` asks the system for a free port.
///
/// ```
/// use runner_metrics::ListenAddress;
///
/// let address = ListenAddress::parse("[2001:db8::1]:http")?;
/// assert_eq!(address.port(), 80);
/// assert_eq!(address.to_string(), "[2001:db8::1]:80");
/// assert_eq!(ListenAddress::parse("localhost")?.port(), 9252);
/// assert!(ListenAddress::parse("::1").is_err());
/// # Ok::<(), runner_metrics::AddressError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListenAddress {
    host: Host,
    port: u16,
}

/// Why a `listen_address` was rejected; the message names the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid listen address {address:?}: {kind}")]
pub struct AddressError {
    address: String,
    kind: AddressErrorKind,
}

/// The part of a `listen_address` that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressErrorKind {
    /// Nothing was given.
    #[error("the address is empty")]
    Empty,
    /// An IPv6 address without brackets, or stray colons.
    #[error("too many colons (write IPv6 addresses in brackets, e.g. [::1]:9252)")]
    TooManyColons,
    /// `[` without `]`, or text between `]` and `:`.
    #[error("malformed brackets (expected [ipv6] or [ipv6]:port)")]
    Brackets,
    /// The text in brackets is not an IPv6 address.
    #[error("{0:?} is not an IPv6 address")]
    InvalidIpv6(String),
    /// The host is neither an IP address nor a valid host name.
    #[error("{0:?} is not a valid IP address or host name")]
    InvalidHost(String),
    /// `host:` with nothing after the colon.
    #[error("the port after ':' is empty (leave out the colon for the default port 9252)")]
    EmptyPort,
    /// A number that is not a TCP port.
    #[error("port {0} is out of range (0-65535)")]
    PortOutOfRange(String),
    /// A symbolic port that is not a known service name.
    #[error("unknown service name {0:?} (use a port number)")]
    UnknownService(String),
}

impl AddressError {
    /// The address as it was given.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// What is wrong with it.
    pub fn kind(&self) -> &AddressErrorKind {
        &self.kind
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Host {
    /// `:port`: every interface, IPv6 and IPv4.
    Any,
    Ip(IpAddr),
    Name(String),
}

impl ListenAddress {
    /// Port reserved for GitLab Runner in Prometheus' default-port list.
    pub const DEFAULT_PORT: u16 = 9252;

    /// Parses a `listen_address` value; see the type's documentation for the forms.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        parse(input).map_err(|kind| AddressError {
            address: input.to_owned(),
            kind,
        })
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host as written (without brackets), `None` for all interfaces.
    pub fn host(&self) -> Option<String> {
        match &self.host {
            Host::Any => None,
            Host::Ip(ip) => Some(ip.to_string()),
            Host::Name(name) => Some(name.clone()),
        }
    }

    /// True when the address can only be reached from this machine: a loopback IP or
    /// `localhost`. All-interfaces and other host names are not loopback.
    pub fn is_loopback(&self) -> bool {
        match &self.host {
            Host::Any => false,
            Host::Ip(ip) => !is_exposed(*ip),
            Host::Name(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
        }
    }

    /// The socket addresses to try, in order: resolves host names (this does DNS).
    pub(crate) async fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        match &self.host {
            Host::Any => Ok(vec![
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), self.port),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.port),
            ]),
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, self.port)]),
            Host::Name(name) => Ok(tokio::net::lookup_host((name.as_str(), self.port))
                .await?
                .collect()),
        }
    }
}

impl FromStr for ListenAddress {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Any => write!(f, ":{}", self.port),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

/// True when a socket bound to `ip` is reachable from other machines: anything but a loopback
/// address (IPv4-mapped loopback included). The unspecified address counts as exposed.
pub(crate) fn is_exposed(ip: IpAddr) -> bool {
    !ip.to_canonical().is_loopback()
}

/// Well-known service names accepted as ports, a subset of `/etc/services` so parsing does not
/// depend on the files of the machine.
const SERVICES: &[(&str, u16)] = &[
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("www-http", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("nntp", 119),
    ("ntp", 123),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
    ("socks", 1080),
    ("http-alt", 8080),
    ("webcache", 8080),
];

fn parse(input: &str) -> Result<ListenAddress, AddressErrorKind> {
    if input.is_empty() {
        return Err(AddressErrorKind::Empty);
    }
    let (host, port) = split_host_port(input)?;
    let host = parse_host(host)?;
    let port = match port {
        None => ListenAddress::DEFAULT_PORT,
        Some(port) => parse_port(port)?,
    };
    Ok(ListenAddress { host, port })
}

/// Splits like Go's `net.SplitHostPort`, except that a missing port is `None` instead of an
/// error; the host keeps its brackets so `parse_host` knows it must be IPv6.
fn split_host_port(input: &str) -> Result<(&str, Option<&str>), AddressErrorKind> {
    if input.starts_with('[') {
        let end = input.find(']').ok_or(AddressErrorKind::Brackets)?;
        let (host, rest) = input.split_at(end + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(port) if !port.contains([':', '[', ']']) => Ok((host, Some(port))),
                _ => Err(AddressErrorKind::Brackets),
            },
        };
    }
    if input.contains([']', '[']) {
        return Err(AddressErrorKind::Brackets);
    }
    match input.matches(':').count() {
        0 => Ok((input, None)),
        1 => {
            let (host, port) = input.split_once(':').ok_or(AddressErrorKind::Empty)?;
            Ok((host, Some(port)))
        }
        _ => Err(AddressErrorKind::TooManyColons),
    }
}

fn parse_host(host: &str) -> Result<Host, AddressErrorKind> {
    if host.is_empty() {
        return Ok(Host::Any);
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| Host::Ip(IpAddr::V6(ip)))
            .map_err(|_| AddressErrorKind::InvalidIpv6(inner.to_owned()));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    if is_host_name(host) {
        Ok(Host::Name(host.to_owned()))
    } else {
        Err(AddressErrorKind::InvalidHost(host.to_owned()))
    }
}

/// RFC 1123 host names, with `_` tolerated as resolvers do; all-numeric dotted names that are
/// not valid IPv4 (`300.1.1.1`) are rejected.
fn is_host_name(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let all_numeric = name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    labels_ok && !all_numeric
}

fn parse_port(port: &str) -> Result<u16, AddressErrorKind> {
    if port.is_empty() {
        return Err(AddressErrorKind::EmptyPort);
    }
    if port.bytes().all(|b| b.is_ascii_digit()) {
        return port
            .parse::<u16>()
            .map_err(|_| AddressErrorKind::PortOutOfRange(port.to_owned()));
    }
    let wanted = port.to_ascii_lowercase();
    SERVICES
        .iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, number)| *number)
        .ok_or_else(|| AddressErrorKind::UnknownService(port.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, AddressErrorKind>) {
        let got = ListenAddress::parse(input)
            .map(|a| a.to_string())
            .map_err(|e| e.kind().clone());
        assert_eq!(got, expected.map(str::to_owned), "input {input:?}");
    }

    #[test]
    fn seed_examples_parse() {
        check(":9252", Ok(":9252"));
        check("localhost:9252", Ok("localhost:9252"));
        check("[2001:db8::1]:http", Ok("[2001:db8::1]:80"));
        check("[::]:9252", Ok("[::]:9252"));
    }

    #[test]
    fn missing_port_means_9252() {
        check("localhost", Ok("localhost:9252"));
        check("127.0.0.1", Ok("127.0.0.1:9252"));
        check("0.0.0.0", Ok("0.0.0.0:9252"));
        check("[::1]", Ok("[::1]:9252"));
    }

    #[test]
    fn service_names_resolve_to_ports() {
        check(":https", Ok(":443"));
        check("example.com:HTTP", Ok("example.com:80"));
        check("host:http-alt", Ok("host:8080"));
        check(
            "host:nosuchservice",
            Err(AddressErrorKind::UnknownService("nosuchservice".into())),
        );
    }

    #[test]
    fn malformed_addresses_are_rejected_with_a_reason() {
        check("", Err(AddressErrorKind::Empty));
        check("::1", Err(AddressErrorKind::TooManyColons));
        check("host:", Err(AddressErrorKind::EmptyPort));
        check(
            "host:65536",
            Err(AddressErrorKind::PortOutOfRange("65536".into())),
        );
        check("[::1", Err(AddressErrorKind::Brackets));
        check("[::1]x", Err(AddressErrorKind::Brackets));
        check("[::1]:80:80", Err(AddressErrorKind::Brackets));
        check("a]:80", Err(AddressErrorKind::Brackets));
        check(
            "[1.2.3.4]:80",
            Err(AddressErrorKind::InvalidIpv6("1.2.3.4".into())),
        );
        check(
            "bad host:80",
            Err(AddressErrorKind::InvalidHost("bad host".into())),
        );
        check(
            "300.1.1.1:80",
            Err(AddressErrorKind::InvalidHost("300.1.1.1".into())),
        );
        check(
            "-a.example:80",
            Err(AddressErrorKind::InvalidHost("-a.example".into())),
        );
    }

    #[test]
    fn error_message_names_the_address_and_the_problem() {
        let error = ListenAddress::parse("::1").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("invalid listen address \"::1\": too many colons"));
        assert_eq!(error.address(), "::1");
    }

    #[test]
    fn loopback_detection() {
        let loopback = |s: &str| ListenAddress::parse(s).unwrap().is_loopback();
        assert!(loopback("127.0.0.1:1"));
        assert!(loopback("127.1.2.3"));
        assert!(loopback("[::1]:1"));
        assert!(loopback("localhost"));
        assert!(loopback("LOCALHOST."));
        assert!(!loopback(":9252"));
        assert!(!loopback("0.0.0.0"));
        assert!(!loopback("[::]:9252"));
        assert!(!loopback("10.1.2.3"));
        assert!(!loopback("runner.example.com"));
    }

    #[test]
    fn exposure_of_bound_ips() {
        assert!(!is_exposed("127.0.0.1".parse().unwrap()));
        assert!(!is_exposed("::1".parse().unwrap()));
        assert!(!is_exposed("::ffff:127.0.0.1".parse().unwrap()));
        assert!(is_exposed("0.0.0.0".parse().unwrap()));
        assert!(is_exposed("::".parse().unwrap()));
        assert!(is_exposed("192.0.2.10".parse().unwrap()));
    }
}
