//! Config resource types (org.apache.kafka.common.config.ConfigResource.Type) and the ACL resource Kafka
//! authorizes for each.

use crate::protocol::acl::{ResourceType, CLUSTER_NAME};

/// Config resource types (org.apache.kafka.common.config.ConfigResource.Type).
pub(crate) const CONFIG_TOPIC: i8 = 2;
pub(crate) const CONFIG_BROKER: i8 = 4;
pub(crate) const CONFIG_BROKER_LOGGER: i8 = 8;
pub(crate) const CONFIG_CLIENT_METRICS: i8 = 16;
pub(crate) const CONFIG_GROUP: i8 = 32;

/// The resource Kafka authorizes for a config resource (KafkaApis / ConfigHelper).
pub(crate) fn config_resource(resource_type: i8, name: &str) -> Result<(ResourceType, &str), String> {
    match resource_type {
        CONFIG_TOPIC => Ok((ResourceType::Topic, name)),
        CONFIG_BROKER | CONFIG_BROKER_LOGGER | CONFIG_CLIENT_METRICS => Ok((ResourceType::Cluster, CLUSTER_NAME)),
        CONFIG_GROUP => Ok((ResourceType::Group, name)),
        other => Err(format!("unknown config resource type {other}")),
    }
}
