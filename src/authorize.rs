//! A request's requirements asked of the authorizer: the one way the filter's session and the CLI's
//! `explain` ask them, so what `explain` prints is what the filter decides.
//!
//! The alternatives of a requirement are asked in order until one is allowed. Kafka 3.0+ gives an idempotent
//! producer (InitProducerId without a transactional id) IdempotentWrite on the cluster OR Write on any topic;
//! an [`Action`] names one resource, so the second half is asked here when the first is denied.

use kafka_protocol::messages::ApiKey;

use crate::classify::Requirement;
use crate::policy::{Authorizer, Decision, RequestCtx};
use crate::protocol::acl::{Action, Operation, ResourceType};

/// One alternative asked, and the authorizer's answer.
#[derive(Debug)]
pub struct Asked<'r, 'p> {
    pub action: &'r Action<'r>,
    pub decision: Decision<'p>,
}

/// A requirement decided.
#[derive(Debug)]
#[must_use]
pub struct Outcome<'r, 'p> {
    pub satisfied: bool,
    /// The alternative that decided: the allowed one, or the last one asked. A failed requirement is named
    /// by its most specific (last) alternative: Kafka's error names the topic of a denied CreateTopics, not
    /// the cluster, and a split request is cut by it.
    pub deciding: Option<Asked<'r, 'p>>,
}

/// Asks one requirement of the authorizer, as the filter does for every checked request. `asked` sees each
/// alternative asked and its answer, in order (`explain` prints them; the session passes `|_| {}`, and the
/// hot path keeps nothing but the deciding one).
pub fn requirement<'r, 'p>(
    authorizer: &'p Authorizer,
    ctx: &RequestCtx<'_>,
    requirement: &'r Requirement<'r>,
    mut asked: impl FnMut(&Asked<'r, 'p>),
) -> Outcome<'r, 'p> {
    let mut deciding = None;
    for action in requirement.any_of() {
        let mut decision = authorizer.authorize(ctx, action);
        if !decision.allowed && is_idempotent_producer_check(ctx.api_key, action) {
            let any = authorizer.authorize_any(ctx, Operation::Write, ResourceType::Topic);
            if any.allowed {
                decision = any;
            }
        }
        let allowed = decision.allowed;
        let this = Asked { action, decision };
        asked(&this);
        deciding = Some(this);
        if allowed {
            return Outcome { satisfied: true, deciding };
        }
    }
    Outcome { satisfied: false, deciding }
}

fn is_idempotent_producer_check(api_key: i16, action: &Action) -> bool {
    api_key == ApiKey::InitProducerId as i16
        && action.op == Operation::IdempotentWrite
        && action.resource_type == ResourceType::Cluster
}
