//! The filter's SASL exchange with the broker on the client's behalf (`propagation.mode: sasl`), interleaved
//! with the client's traffic: the requests it sends and the answers it consumes (see [`SaslState`]).

use super::events::Event;
use super::state::{Core, InFlight, ResponseAction};
use crate::frame::Verdict;
use crate::propagation::SaslStep;
use crate::protocol::wire::{self, SIZE_PREFIX};

/// Records an in-flight entry for every SASL request frame in `frames`.
pub(super) fn push_sasl_inflight(core: &mut Core, frames: &[u8]) {
    let mut rest = frames;
    while let (Some(size), Some(correlation_id)) = (wire::frame_size(rest), rest.get(8..12)) {
        let correlation_id = i32::from_be_bytes(correlation_id.try_into().unwrap_or_default());
        let field = |range: std::ops::Range<usize>| {
            rest.get(range).and_then(|b| b.try_into().ok()).map(i16::from_be_bytes).unwrap_or_default()
        };
        let (api_key, api_version) = (field(4..6), field(6..8));
        core.inflight.push_back(InFlight {
            correlation_id,
            measured_api_key: api_key,
            started_us: core.timed.then_some(core.now_us),
            api_key,
            api_version,
            action: ResponseAction::Sasl,
            cfg: core.cfg.clone(),
        });
        rest = rest.get(SIZE_PREFIX + size.max(0) as usize..).unwrap_or_default();
    }
}

/// Feeds the broker's answer to the filter's SASL exchange; it never reaches the client.
pub(super) fn sasl_response(core: &mut Core, frame: &[u8]) -> Verdict {
    let Some(sasl) = core.sasl.as_mut() else { return Verdict::Close("SASL response without exchange".into()) };
    match sasl.client.on_response(frame) {
        Ok(SaslStep::Send(next)) => {
            sasl.outbox.extend_from_slice(&next);
            let released = std::mem::take(&mut sasl.held_responses);
            push_sasl_inflight(core, &next);
            Verdict::Replace(released)
        }
        Ok(SaslStep::Wait) => Verdict::Replace(Vec::new()),
        Ok(SaslStep::Done) => {
            let released = std::mem::take(&mut sasl.held_responses);
            let user = sasl.client.username().to_string();
            core.events.push(Event::Propagated(format!("authenticated to the broker as SASL user {user}")));
            Verdict::Replace(released)
        }
        Err(e) => Verdict::Close(format!("SASL authentication to the broker failed: {e}").into()),
    }
}
