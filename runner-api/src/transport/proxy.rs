//! Proxy settings resolved by the binary from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` (C5).

use hyper_util::client::proxy::matcher::Matcher;

/// Proxy settings for the runner's own traffic to the coordinator.
///
/// The library never reads the environment: the binary calls
/// [`ProxySettings::from_lookup`] with `std::env::var` and passes the result on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// Proxy for `http://` URLs.
    pub http: Option<String>,
    /// Proxy for `https://` URLs (reached with `CONNECT`).
    pub https: Option<String>,
    /// Comma-separated hosts, domains, IPs and CIDRs that bypass the proxy; `*` disables it.
    pub no_proxy: Option<String>,
}

impl ProxySettings {
    /// Reads `HTTP_PROXY`/`http_proxy`, `HTTPS_PROXY`/`https_proxy` and `NO_PROXY`/`no_proxy`
    /// through `lookup`; the upper-case name wins when both are set and non-empty.
    /// `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set (CGI), as Go does.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|name| lookup(name).filter(|value| !value.trim().is_empty()))
        };
        let is_cgi = lookup("REQUEST_METHOD").is_some_and(|value| !value.is_empty());
        Self {
            http: if is_cgi {
                None
            } else {
                first(["HTTP_PROXY", "http_proxy"])
            },
            https: first(["HTTPS_PROXY", "https_proxy"]),
            no_proxy: first(["NO_PROXY", "no_proxy"]),
        }
    }

    /// Whether no proxy is configured.
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    pub(crate) fn matcher(&self) -> Matcher {
        Matcher::builder()
            .http(self.http.clone().unwrap_or_default())
            .https(self.https.clone().unwrap_or_default())
            .no(self.no_proxy.clone().unwrap_or_default())
            .build()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> ProxySettings {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProxySettings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn upper_case_wins_and_lower_case_is_a_fallback() {
        let both = settings(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
        ]);
        assert_eq!(both.https.as_deref(), Some("http://upper:1"));
        let lower = settings(&[
            ("http_proxy", "http://lower:2"),
            ("no_proxy", "gitlab.example.com"),
        ]);
        assert_eq!(lower.http.as_deref(), Some("http://lower:2"));
        assert_eq!(lower.no_proxy.as_deref(), Some("gitlab.example.com"));
        assert!(settings(&[]).is_empty());
    }

    #[test]
    fn cgi_ignores_http_proxy() {
        let cgi = settings(&[("HTTP_PROXY", "http://p:1"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(cgi.http, None);
    }

    #[test]
    fn no_proxy_bypasses_matching_hosts() {
        let proxy = settings(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("NO_PROXY", "gitlab.example.com"),
        ])
        .matcher();
        assert!(
            proxy
                .intercept(&"https://gitlab.example.com/api".parse().unwrap())
                .is_none()
        );
        assert!(
            proxy
                .intercept(&"https://sub.gitlab.example.com/api".parse().unwrap())
                .is_none()
        );
        assert!(
            proxy
                .intercept(&"https://other.example.com/api".parse().unwrap())
                .is_some()
        );
        assert!(
            proxy
                .intercept(&"http://other.example.com/api".parse().unwrap())
                .is_none()
        );
    }
}
