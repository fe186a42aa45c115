//! ApiVersions clamping: the broker's advertised versions are narrowed to those the filter can parse and
//! rewrite, so a newer client never sends a version the filter would have to refuse.

use kafka_protocol::messages::ApiKey;

use crate::protocol::error_code;
use crate::protocol::wire;

/// The version range the filter handles for an API key: the crate's codec range capped by the table.
pub fn supported_versions(api_key: i16) -> Option<(i16, i16)> {
    let entry = crate::protocol::api::lookup(api_key)?;
    let key = ApiKey::try_from(api_key).ok()?;
    let range = key.valid_versions();
    let max = entry.max_version.min(range.max);
    if entry.max_version < 0 || max < range.min {
        return None;
    }
    // Produce/Fetch below the crate's minimum are still classified by the filter's own walkers.
    let min = if key == ApiKey::Produce || key == ApiKey::Fetch { 0 } else { range.min };
    Some((min, max))
}

/// Rewrites an ApiVersions response so it advertises only versions the filter can parse; `None` when
/// nothing changes. Read by hand (no kafka-protocol decode, so no allocation from a count off the wire):
/// only the `api_keys` array is rewritten, every other byte is kept as the broker sent it.
pub(super) fn clamp_api_versions(frame: &[u8], version: i16) -> Result<Option<Vec<u8>>, String> {
    let body = frame.get(wire::response_body_offset(ApiKey::ApiVersions as i16, version)..).unwrap_or_default();
    let correlation_id = wire::response_correlation_id(frame).unwrap_or_default();
    // A broker that does not support the client's version answers in v0 with UNSUPPORTED_VERSION (35).
    let parsed = match api_versions_entries(body, version >= 3) {
        Some(p) if p.error_code != error_code::UNSUPPORTED_VERSION || !p.flexible => p,
        _ => api_versions_entries(body, false).ok_or("malformed ApiVersions response")?,
    };
    let mut kept = Vec::with_capacity(parsed.entries.len());
    let mut changed = false;
    for entry in &parsed.entries {
        let clamped = supported_versions(entry.api_key)
            .map(|(min, max)| (entry.min_version.max(min), entry.max_version.min(max)))
            .filter(|(min, max)| min <= max);
        match clamped {
            Some(range) => {
                changed |= range != (entry.min_version, entry.max_version);
                kept.push((entry, range));
            }
            None => changed = true,
        }
    }
    if !changed {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(body.len());
    out.extend_from_slice(&parsed.error_code.to_be_bytes());
    wire::write_array_count(&mut out, kept.len() as u32, parsed.flexible);
    for (entry, (min, max)) in kept {
        out.extend_from_slice(&entry.api_key.to_be_bytes());
        out.extend_from_slice(&min.to_be_bytes());
        out.extend_from_slice(&max.to_be_bytes());
        out.extend_from_slice(entry.tagged_fields);
    }
    out.extend_from_slice(body.get(parsed.rest..).unwrap_or_default());
    Ok(Some(wire::response_frame(ApiKey::ApiVersions as i16, version, correlation_id, &out)))
}

struct ApiVersionEntry<'a> {
    api_key: i16,
    min_version: i16,
    max_version: i16,
    /// The entry's tagged fields, verbatim (flexible versions).
    tagged_fields: &'a [u8],
}

struct ApiVersionsEntries<'a> {
    error_code: i16,
    flexible: bool,
    entries: Vec<ApiVersionEntry<'a>>,
    /// Offset of what follows the array (throttle time, tagged fields), kept verbatim.
    rest: usize,
}

fn api_versions_entries(body: &[u8], flexible: bool) -> Option<ApiVersionsEntries<'_>> {
    let mut r = wire::Reader::new(body);
    let error_code = r.i16()?;
    let count = if flexible { (r.uvarint()? as usize).checked_sub(1)? } else { usize::try_from(r.i32()?).ok()? };
    // Every entry takes at least 6 bytes: a larger count is malformed, not an allocation.
    if count > r.remaining() / 6 {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let (api_key, min_version, max_version) = (r.i16()?, r.i16()?, r.i16()?);
        let tags_start = r.position();
        if flexible {
            r.skip_tagged_fields()?;
        }
        let tagged_fields = body.get(tags_start..r.position())?;
        entries.push(ApiVersionEntry { api_key, min_version, max_version, tagged_fields });
    }
    Some(ApiVersionsEntries { error_code, flexible, entries, rest: r.position() })
}
