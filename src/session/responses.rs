//! The response side: every broker response matched to its request in order, then forwarded, replaced by
//! the filter's answer, clamped, filtered or merged, as the request's in-flight entry says.

use kafka_protocol::messages::ApiKey;

use super::api_versions::clamp_api_versions;
use super::sasl::sasl_response;
use super::split::merge_denied;
use super::state::{Core, ResponseAction, SaslState};
use super::visibility::{filter_listing_response, filter_metadata_response};
use crate::frame::{FrameHandler, Verdict};
use crate::metrics::Stat;
use crate::protocol::api::api_name;
use crate::protocol::wire;

pub(super) struct ResponseSide<'a>(pub(super) &'a mut Core);

impl FrameHandler for ResponseSide<'_> {
    fn on_frame(&mut self, frame: &[u8], frame_len: usize) -> Verdict {
        let core = &mut *self.0;
        if !core.tracking {
            return Verdict::Forward;
        }
        let Some(correlation_id) = wire::response_correlation_id(frame) else {
            return if frame.len() < frame_len { Verdict::NeedMore } else { Verdict::Close("short response".into()) };
        };
        let Some(expected) = core.inflight.front() else {
            return Verdict::Close(format!("response {correlation_id} without a request").into());
        };
        if expected.correlation_id != correlation_id {
            return Verdict::Close(
                format!("response correlation id {correlation_id}, expected {}", expected.correlation_id).into(),
            );
        }
        let is_sasl = matches!(expected.action, ResponseAction::Sasl);
        let holding = core.sasl.as_ref().is_some_and(SaslState::blocks);
        let whole_needed = is_sasl
            || holding
            || matches!(
                expected.action,
                ResponseAction::ClampApiVersions
                    | ResponseAction::FilterMetadata { .. }
                    | ResponseAction::FilterListing { .. }
                    | ResponseAction::MergeDenied { .. }
                    | ResponseAction::ResolveTopicIds(_)
            );
        if whole_needed && frame.len() < frame_len {
            return Verdict::NeedMore;
        }
        let Some(entry) = core.inflight.pop_front() else { return Verdict::Close("no request".into()) };
        if is_sasl {
            return sasl_response(core, frame);
        }
        match entry.started_us {
            Some(started_us) if core.timed => core.stats.push(Stat::LatencyMicros {
                api_key: entry.measured_api_key,
                micros: core.now_us.saturating_sub(started_us),
            }),
            Some(started_us) => core.pending_latency.push((entry.measured_api_key, started_us)),
            None => {}
        }
        // Where the Fetch walk wants to see this response again (its topics' shares; see topic_bytes).
        let mut resume = None;
        if entry.api_key == ApiKey::Fetch as i16 {
            core.stats.push(Stat::FetchedBytes(frame_len as u64));
            resume = core.topic_bytes.start_fetch(&mut core.stats, entry.api_version, frame, frame_len);
        }
        let verdict = match entry.action {
            ResponseAction::Forward | ResponseAction::Sasl => Verdict::Forward,
            // Rewritten under the policy its request was decided under (a policy update may have come in between).
            action => {
                let current = std::mem::replace(&mut core.cfg, entry.cfg);
                let request = (entry.api_key, entry.api_version, entry.correlation_id);
                let verdict = rewrite(core, action, request, frame);
                core.cfg = current;
                verdict
            }
        };
        match (verdict, core.sasl.as_mut()) {
            // Held until the exchange has sent what must precede the client's next request (see SaslState).
            (Verdict::Forward, Some(sasl)) if holding => {
                sasl.held_responses.extend_from_slice(frame);
                Verdict::Replace(Vec::new())
            }
            (Verdict::Replace(bytes), Some(sasl)) if holding => {
                sasl.held_responses.extend_from_slice(&bytes);
                Verdict::Replace(Vec::new())
            }
            (Verdict::Forward, _) => match resume {
                Some(offset) => Verdict::ForwardThrough(offset),
                None => Verdict::Forward,
            },
            (verdict, _) => verdict,
        }
    }

    fn on_frame_rest(&mut self, bytes: &[u8], offset: usize, _frame_len: usize) -> Verdict {
        let core = &mut *self.0;
        match core.topic_bytes.continue_fetch(&mut core.stats, bytes, offset) {
            Some(next) => Verdict::ForwardThrough(next),
            None => Verdict::Forward,
        }
    }
}

/// A response the filter replaces or rewrites (not the hot path: out of line, so the forwarding path stays
/// small). `Forward` and `Sasl` do not come here (`on_frame` passes them on).
#[inline(never)]
fn rewrite(
    core: &mut Core,
    action: ResponseAction,
    (api_key, api_version, correlation_id): (i16, i16, i32),
    frame: &[u8],
) -> Verdict {
    match action {
        ResponseAction::Forward | ResponseAction::Sasl => Verdict::Forward,
        ResponseAction::Replace(answer) => Verdict::Replace(answer),
        ResponseAction::ResolveTopicIds(unresolved) => {
            super::topic_resolution::resolved(core, frame, correlation_id, &unresolved)
        }
        ResponseAction::ClampApiVersions => match clamp_api_versions(frame, api_version) {
            Ok(Some(rewritten)) => Verdict::Replace(rewritten),
            Ok(None) => Verdict::Forward,
            Err(e) => Verdict::Close(format!("ApiVersions response: {e}").into()),
        },
        ResponseAction::FilterMetadata { denied_named, client_id, by_id } => {
            let request = (api_version, correlation_id, by_id);
            match filter_metadata_response(core, frame, request, &denied_named, client_id.as_deref()) {
                Ok(rewritten) => Verdict::Replace(rewritten),
                Err(e) => Verdict::Close(format!("Metadata response: {e}").into()),
            }
        }
        ResponseAction::FilterListing { filter, client_id } => {
            let request = (api_key, api_version, correlation_id);
            match filter_listing_response(core, frame, request, &filter, client_id.as_deref()) {
                Ok(Some(rewritten)) => Verdict::Replace(rewritten),
                Ok(None) => Verdict::Forward,
                Err(e) => Verdict::Close(format!("{} response: {e}", api_name(api_key)).into()),
            }
        }
        ResponseAction::MergeDenied { answer, by_group, listing } => {
            let request = (api_key, api_version, correlation_id);
            let narrowed = match &listing {
                Some((filter, client_id)) => {
                    filter_listing_response(core, frame, request, filter, client_id.as_deref())
                }
                None => Ok(None),
            };
            let merged = narrowed.and_then(|narrowed| {
                let broker = narrowed.as_deref().unwrap_or(frame);
                merge_denied((api_key, api_version), broker, &answer, by_group)
            });
            match merged {
                Ok(merged) => Verdict::Replace(merged),
                Err(e) => Verdict::Close(format!("{} response: {e}", api_name(api_key)).into()),
            }
        }
    }
}
