//! The HTTP transport: TLS roots and client certificates, proxies, the connector.

mod connector;
mod proxy;
mod tls;

pub(crate) use connector::Connector;
pub use proxy::ProxySettings;
pub(crate) use tls::{LazyTls, TlsFiles};
