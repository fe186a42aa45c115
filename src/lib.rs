//! kafka-mtls-filter: a Proxy-Wasm network filter that derives a Kafka principal from the downstream mTLS
//! peer certificate, enforces Kafka ACLs in front of an unmodified broker, and propagates the identity.
//!
//! Everything except [`glue`] is a sans-IO core: bytes and identity in, decisions and bytes out. The glue is
//! the only code that talks to the host, and only exists on `wasm32`.

// A panic traps the VM, and with it every connection on the Envoy worker: outside tests nothing may unwrap,
// expect, panic or index out of bounds.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]
// The benchmark build without following policy updates leaves that code unused.
#![cfg_attr(feature = "bench-no-policy-follow", allow(dead_code))]

pub mod audit;
pub mod authorize;
pub mod classify;
pub mod config;
pub mod config_error;
pub mod config_json;
pub mod connection_limits;
pub mod enforce;
pub mod feed;
pub mod frame;
pub mod held_budget;
pub mod identity;
pub mod metrics;
pub mod policy;
pub mod propagation;
pub mod protocol;
pub mod scope_conflict;
pub mod session;
pub mod time;
pub mod topic_ids;

#[cfg(target_arch = "wasm32")]
mod glue;
