//! Kafka error codes the filter writes or reads (org.apache.kafka.common.protocol.Errors), and the one
//! Kafka answers for a denied resource of each type.

use crate::protocol::acl::ResourceType;

pub const NONE: i16 = 0;
pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
pub const UNSUPPORTED_VERSION: i16 = 35;
/// ShareGroupHeartbeat with an invalid member id; a refused regex subscription (see `session::regex_subscription`).
pub const INVALID_REQUEST: i16 = 42;
pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
/// AddPartitionsToTxn's answer for the partitions not at fault when others are refused.
pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
pub const DELEGATION_TOKEN_AUTHORIZATION_FAILED: i16 = 65;
/// A topic id the broker does not know (retriable: clients refresh their metadata and retry).
pub const UNKNOWN_TOPIC_ID: i16 = 100;

/// The authorization error Kafka returns for a denied resource of this type.
pub fn authorization_error(resource_type: ResourceType) -> i16 {
    match resource_type {
        ResourceType::Topic => TOPIC_AUTHORIZATION_FAILED,
        ResourceType::Group => GROUP_AUTHORIZATION_FAILED,
        ResourceType::Cluster | ResourceType::User => CLUSTER_AUTHORIZATION_FAILED,
        ResourceType::TransactionalId => TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ResourceType::DelegationToken => DELEGATION_TOKEN_AUTHORIZATION_FAILED,
    }
}
