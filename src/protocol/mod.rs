//! Kafka's protocol knowledge, in one place: the API table ([`api`]), the error codes the filter answers
//! with ([`error_code`]), the ACL vocabulary ([`acl`]) and the wire format ([`wire`]). It depends on nothing
//! else of the crate; classification, policy, enforcement and the session name Kafka's things from here.

pub mod acl;
pub mod api;
pub mod api_table;
pub mod config_resource;
pub mod error_code;
pub(crate) mod layout;
pub mod wire;
