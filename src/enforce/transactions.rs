//! Error responses of the transaction APIs: producer ids, partitions and offsets added to a transaction,
//! its end, and the transaction listings.

use kafka_protocol::messages::ApiKey;

use super::writer::{each_str, per_partition, Out};
use super::{first_error, Codes};
use crate::protocol::error_code;
use crate::protocol::layout::Node;

/// Writes the body of the error response to a denied InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, ... request.
// Inlined into `error_response`, the one match these arms were: as calls the module grew by 10 KB.
#[inline(always)]
pub(super) fn answer(key: ApiKey, o: &mut Out, req: &Node<'_>, e: &Codes<'_>) -> Result<(), String> {
    let group = || e.group(req.str("group_id").unwrap_or_default());
    match key {
        ApiKey::InitProducerId => {
            o.i32(0);
            o.i16(match req.str("transactional_id") {
                Some(id) => e.txn(id),
                None => e.cluster(),
            });
            o.i64(-1); // producer_id
            o.i16(-1); // producer_epoch
        }
        ApiKey::AddPartitionsToTxn => {
            o.i32(0);
            let txn_code = e.txn(req.str("v3_and_below_transactional_id").unwrap_or_default());
            let refused = req
                .nodes("v3_and_below_topics")
                .any(|t| first_error(&[txn_code, e.topic(t.str("name").unwrap_or_default())]) != error_code::NONE);
            let code = |topic: &str| match first_error(&[txn_code, e.topic(topic)]) {
                error_code::NONE if refused => error_code::OPERATION_NOT_ATTEMPTED,
                code => code,
            };
            per_partition(o, req, "v3_and_below_topics", "name", ("partitions", ""), code, |o, index, code| {
                o.i32(index);
                o.i16(code);
            });
        }
        ApiKey::AddOffsetsToTxn | ApiKey::EndTxn => {
            o.i32(0);
            let txn_code = e.txn(req.str("transactional_id").unwrap_or_default());
            if key == ApiKey::AddOffsetsToTxn {
                o.i16(first_error(&[txn_code, group()]));
            } else {
                o.i16(txn_code);
                if o.since(5) {
                    o.i64(-1); // producer_id
                    o.i16(-1); // producer_epoch
                }
            }
        }
        ApiKey::TxnOffsetCommit => {
            o.i32(0);
            let head = first_error(&[e.txn(req.str("transactional_id").unwrap_or_default()), group()]);
            let code = |topic: &str| first_error(&[head, e.topic(topic)]);
            per_partition(o, req, "topics", "name", ("partitions", "partition_index"), code, |o, index, code| {
                o.i32(index);
                o.i16(code);
            });
        }
        ApiKey::DescribeTransactions => {
            o.i32(0);
            each_str(o, req, "transactional_ids", |o, id| {
                o.i16(e.txn(id));
                o.str(id);
                o.str(""); // transaction_state
                o.i32(0); // transaction_timeout_ms
                o.i64(-1); // transaction_start_time_ms
                o.i64(0); // producer_id: 0, as Kafka leaves a refused entry's
                o.i16(0); // producer_epoch
                o.count(0); // topics
            });
        }
        ApiKey::ListTransactions => {
            // Like ListGroups: Kafka shows a principal nothing it may not describe, without an error.
            o.i32(0);
            o.i16(error_code::NONE);
            o.count(0); // unknown_state_filters
            o.count(0); // transaction_states
        }
        _ => return Err(format!("no error response for {key:?}")),
    }
    Ok(())
}
