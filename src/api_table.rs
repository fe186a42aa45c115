//! The one table of Kafka APIs the filter knows: name, the highest version the filter can parse and
//! rewrite, and what Kafka's authorizer checks for it ("Operations and Resources on Protocols").
//!
//! OWNER: kafka-api helper. Interface: `ApiEntry`, `lookup`, `ENTRIES`.

/// One Kafka API.
#[derive(Debug, Clone, Copy)]
pub struct ApiEntry {
    pub key: i16,
    pub name: &'static str,
    /// Highest request version the filter parses and can answer with an error. ApiVersions responses
    /// are clamped to this, so clients never send a version the filter would have to refuse.
    /// `-1`: the filter cannot handle this API at all (removed from ApiVersions, denied).
    pub max_version: i16,
    /// What Kafka checks, as documentation (e.g. `Write Topic; Write TransactionalId if transactional`).
    pub checks: &'static str,
}

pub static ENTRIES: &[ApiEntry] = &[];

pub fn lookup(key: i16) -> Option<&'static ApiEntry> {
    ENTRIES.iter().find(|e| e.key == key)
}
