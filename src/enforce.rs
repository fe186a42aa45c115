//! Enforcement: the Kafka error response a client gets for a denied request, encoded at the request's
//! API version and response-header version, so clients see real Kafka errors, never a disconnect.
//!
//! OWNER: kafka-api helper. Interface: `error_response`.

use crate::policy::ResourceType;

/// Builds the complete response frame (4-byte size, response header, body) answering a denied request.
/// `body` is the complete request body (after the request header). `error_for(resource_type, name)` gives
/// the error code for each named resource in the request (e.g. 29 TOPIC_AUTHORIZATION_FAILED);
/// request-level errors use the code for the request's main resource.
pub fn error_response(
    _api_key: i16,
    _api_version: i16,
    _correlation_id: i32,
    _body: &[u8],
    _error_for: &dyn Fn(ResourceType, &str) -> i16,
) -> Result<Vec<u8>, String> {
    Err("not implemented".into())
}
