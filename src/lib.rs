//! kafka-mtls-filter: a Proxy-Wasm network filter that derives a Kafka principal from the downstream mTLS
//! peer certificate, enforces Kafka ACLs in front of an unmodified broker, and propagates the identity.
//!
//! Everything except [`glue`] is a sans-IO core: bytes and identity in, decisions and bytes out. The glue is
//! the only code that talks to the host, and only exists on `wasm32`.

pub mod audit;
pub mod authorize;
pub mod classify;
pub mod config;
pub mod config_error;
pub mod enforce;
pub mod frame;
pub mod held_budget;
pub mod identity;
pub mod metrics;
pub mod policy;
pub mod propagation;
pub mod protocol;
pub mod session;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod glue;
