//! Kafka's ACL vocabulary: operations, resource types, the names Kafka gives the cluster and the wildcard
//! principal, and one authorization question ([`Action`]). What the authorizer decides is in `policy`.

use std::borrow::Cow;

/// Kafka ACL operations (org.apache.kafka.common.acl.AclOperation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    CreateTokens,
    DescribeTokens,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const EVERY: [Operation; 13] = [
        Operation::All,
        Operation::Read,
        Operation::Write,
        Operation::Create,
        Operation::Delete,
        Operation::Alter,
        Operation::Describe,
        Operation::ClusterAction,
        Operation::DescribeConfigs,
        Operation::AlterConfigs,
        Operation::IdempotentWrite,
        Operation::CreateTokens,
        Operation::DescribeTokens,
    ];

    /// Kafka's `AclOperation` code: the bit an authorized-operations field sets (`Utils.to32BitField`).
    pub fn code(self) -> u8 {
        match self {
            Operation::All => 2,
            Operation::Read => 3,
            Operation::Write => 4,
            Operation::Create => 5,
            Operation::Delete => 6,
            Operation::Alter => 7,
            Operation::Describe => 8,
            Operation::ClusterAction => 9,
            Operation::DescribeConfigs => 10,
            Operation::AlterConfigs => 11,
            Operation::IdempotentWrite => 12,
            Operation::CreateTokens => 13,
            Operation::DescribeTokens => 14,
        }
    }

    /// The name as Strimzi writes it (`DescribeConfigs`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::All => "All",
            Operation::Read => "Read",
            Operation::Write => "Write",
            Operation::Create => "Create",
            Operation::Delete => "Delete",
            Operation::Alter => "Alter",
            Operation::Describe => "Describe",
            Operation::ClusterAction => "ClusterAction",
            Operation::DescribeConfigs => "DescribeConfigs",
            Operation::AlterConfigs => "AlterConfigs",
            Operation::IdempotentWrite => "IdempotentWrite",
            Operation::CreateTokens => "CreateTokens",
            Operation::DescribeTokens => "DescribeTokens",
        }
    }

    /// Parses Strimzi's spelling (`DescribeConfigs`) or Kafka's (`DESCRIBE_CONFIGS`), case-insensitively.
    pub fn parse(name: &str) -> Option<Operation> {
        Operation::EVERY.into_iter().find(|op| same_name(name, op.as_str()))
    }

    #[inline]
    pub(crate) fn bit(self) -> OpMask {
        1 << (self as u16)
    }

    /// Operations an allow rule for `self` grants: Kafka lets Read/Write/Delete/Alter imply Describe and
    /// AlterConfigs imply DescribeConfigs (AclAuthorizer's `matchingOperations`, seen from the rule side).
    pub(crate) fn allow_mask(self) -> OpMask {
        match self {
            Operation::All => ALL_OPERATIONS,
            Operation::Read | Operation::Write | Operation::Delete | Operation::Alter => {
                self.bit() | Operation::Describe.bit()
            }
            Operation::AlterConfigs => self.bit() | Operation::DescribeConfigs.bit(),
            _ => self.bit(),
        }
    }

    /// Operations a deny rule for `self` refuses: only itself (denies imply nothing), or everything for All.
    pub(crate) fn deny_mask(self) -> OpMask {
        match self {
            Operation::All => ALL_OPERATIONS,
            _ => self.bit(),
        }
    }
}

/// A set of operations, one bit each (the policy index folds allow implications into it).
pub(crate) type OpMask = u16;
pub(crate) const ALL_OPERATIONS: OpMask = (1 << Operation::EVERY.len()) - 1;

/// Kafka resource types (org.apache.kafka.common.resource.ResourceType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
    DelegationToken,
    User,
}

pub(crate) const RESOURCE_TYPE_COUNT: usize = 6;

impl ResourceType {
    pub const EVERY: [ResourceType; RESOURCE_TYPE_COUNT] = [
        ResourceType::Topic,
        ResourceType::Group,
        ResourceType::Cluster,
        ResourceType::TransactionalId,
        ResourceType::DelegationToken,
        ResourceType::User,
    ];

    /// Kafka's `AclEntry.supportedOperations`: the operations an authorized-operations field reports for a
    /// resource of this type.
    pub fn supported_operations(self) -> &'static [Operation] {
        use Operation::*;
        match self {
            ResourceType::Topic => &[Read, Write, Create, Describe, Delete, Alter, DescribeConfigs, AlterConfigs],
            ResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
            ResourceType::Cluster => {
                &[Create, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, Alter, Describe]
            }
            ResourceType::TransactionalId => &[Describe, Write],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
        }
    }

    /// The name as Strimzi writes it (`transactionalId`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Topic => "topic",
            ResourceType::Group => "group",
            ResourceType::Cluster => "cluster",
            ResourceType::TransactionalId => "transactionalId",
            ResourceType::DelegationToken => "delegationToken",
            ResourceType::User => "user",
        }
    }

    /// Parses Strimzi's spelling (`transactionalId`) or Kafka's (`TRANSACTIONAL_ID`), case-insensitively.
    pub fn parse(name: &str) -> Option<ResourceType> {
        ResourceType::EVERY.into_iter().find(|ty| same_name(name, ty.as_str()))
    }

    #[inline]
    pub(crate) fn slot(self) -> usize {
        self as usize
    }
}

/// Whether `written` is `name` in any ASCII case, with any `_` and `-` (Kafka's `DESCRIBE_CONFIGS` is
/// Strimzi's `DescribeConfigs`). Compared as it goes: a policy has an operation and a resource type per entry.
fn same_name(written: &str, name: &str) -> bool {
    let mut written = written.chars().filter(|c| !matches!(c, '_' | '-'));
    let mut name = name.chars();
    loop {
        match (written.next(), name.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(&b) => {}
            _ => return false,
        }
    }
}

/// The one cluster resource's name, as Kafka names it.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// Kafka's wildcard principal: ACLs for it apply to every principal.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// One authorization question: may the principal perform `op` on the resource?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action<'a> {
    pub op: Operation,
    pub resource_type: ResourceType,
    /// Borrowed from the request where it can be (classification allocates no names).
    pub name: Cow<'a, str>,
}

/// Kafka's name of the resource type (`Topic`, `TransactionalId`), as Kafka's own authorizer logs it.
pub fn resource_type_name(t: ResourceType) -> &'static str {
    match t {
        ResourceType::Topic => "Topic",
        ResourceType::Group => "Group",
        ResourceType::Cluster => "Cluster",
        ResourceType::TransactionalId => "TransactionalId",
        ResourceType::DelegationToken => "DelegationToken",
        ResourceType::User => "User",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_strimzi_and_kafka_spellings() {
        for (written, op) in
            [("DescribeConfigs", Operation::DescribeConfigs), ("DESCRIBE_CONFIGS", Operation::DescribeConfigs)]
        {
            assert_eq!(Operation::parse(written), Some(op));
        }
        assert_eq!(Operation::parse("idempotent-write"), Some(Operation::IdempotentWrite));
        assert_eq!(Operation::parse("all"), Some(Operation::All));
        for wrong in ["", "Describ", "DescribeConfigss", "Réad", "Read "] {
            assert_eq!(Operation::parse(wrong), None, "{wrong:?}");
        }
        assert_eq!(ResourceType::parse("TRANSACTIONAL_ID"), Some(ResourceType::TransactionalId));
        assert_eq!(ResourceType::parse("transactionalId"), Some(ResourceType::TransactionalId));
        assert_eq!(ResourceType::parse("Topic"), Some(ResourceType::Topic));
        assert_eq!(ResourceType::parse("topics"), None);
    }
}
