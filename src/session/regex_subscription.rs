//! ConsumerGroupHeartbeat with a regex subscription (`subscribed_topic_regex`, v1).
//!
//! Kafka's group coordinator resolves the regex against the cluster's topics and leaves out the topics the
//! member may not Describe (`GroupMetadataManager.refreshRegularExpressions`, with the authorizer and the
//! heartbeat's request context). Behind the filter the broker does not know the client's principal: it would
//! resolve the regex to every matching topic and assign topics the member may not Describe. So the filter
//! forwards a regex only when the principal may Describe every topic the regex can match: then Kafka's
//! coordinator would leave out nothing, and the broker's resolution is Kafka's, for the topics that exist
//! now and those created later. Which topics a regex can match is bounded by its literal prefix (Kafka
//! matches the whole name, `Pattern.matches`): `orders-.*` can match only names starting with `orders-`,
//! `.*` any name. Any other regex is refused with INVALID_REQUEST and a message naming the prefix to grant:
//! the Java consumer fails at once with `InvalidRequestException` carrying that message (its heartbeat
//! manager treats INVALID_REQUEST as fatal; TOPIC_AUTHORIZATION_FAILED would be retried forever without the
//! message, UNSUPPORTED_VERSION would be reported as "the new consumer protocol is not supported").

use kafka_protocol::messages::ApiKey;

use super::events::{DecisionRecord, Event};
use super::state::Core;
use crate::frame::Verdict;
use crate::metrics::RequestDecision;
use crate::policy::Mode;
use crate::protocol::acl::{Operation, ResourceType};
use crate::protocol::error_code;
use crate::protocol::layout::{self, Keep};
use crate::protocol::wire;

/// For a ConsumerGroupHeartbeat whose other checks passed: `Some(answer)` when its regex is refused.
pub(super) fn refuse_regex(core: &mut Core, header: &wire::RequestHeader<'_>, body: &[u8]) -> Option<Verdict> {
    let request = layout::parse(ApiKey::ConsumerGroupHeartbeat, header.api_version, body, Keep::Resources).ok()?;
    // Null: unchanged since the member's last heartbeat (checked then); empty: no regex.
    let regex = request.str("subscribed_topic_regex").filter(|r| !r.is_empty())?;
    let prefix = literal_prefix(regex);
    let mode = core.cfg.authorizer.mode();
    let ctx = core.request_ctx(header.api_key, header.api_version, header.client_id);
    let decision = core.cfg.authorizer.may_describe_every_topic(&ctx, &prefix);
    let principal = ctx.principal.to_string();
    let allowed = decision.allowed;
    if !allowed || core.cfg.log_allowed {
        let request = (header.api_key, header.api_version, header.correlation_id);
        let name = format!("{prefix}*");
        let action = Some((Operation::Describe, ResourceType::Topic, name.as_str()));
        let rule = format!("regex subscription {regex:?}: {}", decision.rule);
        let record = DecisionRecord::new(request, header.client_id, action, allowed, mode == Mode::Audit, rule);
        core.events.push(Event::Decision(record));
    }
    if allowed || mode != Mode::Enforce {
        return None;
    }
    let range = if prefix.is_empty() { "every topic".to_string() } else { format!("every topic named {prefix}*") };
    let grant = if prefix.is_empty() {
        "Describe on all topics (the literal name *)".to_string()
    } else {
        format!("Describe on the topic prefix {prefix:?}")
    };
    let message = format!(
        "Regex subscription {regex:?} refused by the Kafka mTLS filter: Kafka assigns a regex only the topics the \
         member may Describe, which the filter cannot make the broker do, so it admits a regex only when {principal} \
         may Describe {range} the regex can match. Grant {grant}, use a regex with a longer literal prefix, or \
         subscribe to topic names."
    );
    let answer = crate::enforce::heartbeat_refusal(
        header.api_version,
        header.correlation_id,
        error_code::INVALID_REQUEST,
        &message,
    );
    core.count_request(header.api_key, RequestDecision::Denied);
    Some(core.answer_in_place(header, answer))
}

/// The literal text every name a regex matches (as a whole, as Kafka matches) starts with: its leading
/// characters up to the first construct that is not one literal topic-name character. Conservative: a regex
/// with an alternation anywhere, or starting with a group, a class or a flag, has the empty prefix.
pub(crate) fn literal_prefix(regex: &str) -> String {
    if regex.contains('|') {
        return String::new();
    }
    let mut prefix = String::new();
    let mut chars = regex.chars().peekable();
    if chars.peek() == Some(&'^') {
        chars.next();
    }
    while let Some(c) = chars.next() {
        let literal = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
            // An escaped punctuation character is itself (`\.`); an escaped letter or digit is a class, an
            // anchor or a quote (`\d`, `\Q`).
            '\\' => match chars.next() {
                Some(n) if n.is_ascii_punctuation() => n,
                _ => break,
            },
            // The quantifiers that make the character before them optional take it back.
            '?' | '*' | '{' => {
                prefix.pop();
                break;
            }
            _ => break,
        };
        prefix.push(literal);
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::literal_prefix;

    #[test]
    fn literal_prefixes() {
        for (regex, prefix) in [
            ("orders-.*", "orders-"),
            ("^orders-.*", "orders-"),
            ("orders\\.eu\\..*", "orders.eu."),
            ("orders", "orders"),
            ("orders-?x.*", "orders"),
            ("orders-*", "orders"),
            ("ord{0,1}ers", "or"),
            ("orders+x", "orders"),
            ("orders[0-9]+", "orders"),
            ("orders(-eu)?", "orders"),
            ("orders-.*|payroll", ""),
            ("(?i)orders.*", ""),
            (".*", ""),
            ("\\Qorders\\E.*", ""),
            ("orders\\d+", "orders"),
            ("[o]rders", ""),
        ] {
            assert_eq!(literal_prefix(regex), prefix, "{regex}");
        }
    }
}
