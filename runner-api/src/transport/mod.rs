//! The HTTP transport: TLS roots and client certificates, proxies, the connector.

mod connector;
mod pool;
mod proxy;
mod tls;

pub(crate) use connector::Connector;
pub(crate) use pool::{Pool, PoolSettings};
pub use proxy::ProxySettings;
pub(crate) use tls::{LazyTls, TlsFiles};
