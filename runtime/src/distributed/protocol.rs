//! What workers tell each other through the group coordinator: member metadata in JoinGroup
//! (protocol version, REST URL, config offset, the work the member owns — KIP-415's "owned"
//! assignment) and the assignment the leader hands out in SyncGroup.
//!
//! Both are JSON, not Connect's binary `ConnectProtocol` schemas, so a group mixing Java
//! Connect workers and Sluice workers is not supported (the protocol name differs as well).

use std::collections::BTreeSet;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub const PROTOCOL_VERSION: u32 = 1;

/// A unit of work: a connector instance or one of its tasks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WorkId {
    Connector(String),
    Task(String, u32),
}

impl WorkId {
    pub fn connector(&self) -> &str {
        match self {
            WorkId::Connector(c) | WorkId::Task(c, _) => c,
        }
    }

    pub fn is_task(&self) -> bool {
        matches!(self, WorkId::Task(..))
    }
}

impl std::fmt::Display for WorkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkId::Connector(c) => write!(f, "{c}"),
            WorkId::Task(c, t) => write!(f, "{c}-{t}"),
        }
    }
}

/// Member metadata (JoinGroup).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberMetadata {
    pub version: u32,
    /// The worker's advertised REST URL (`http://host:port`).
    pub url: String,
    /// How far the worker has read the config topic.
    pub config_offset: i64,
    /// What the worker runs now.
    pub owned: BTreeSet<WorkId>,
    /// Bumped when the worker asks for a rebalance without any other change (the scheduled
    /// rebalance of departed workers' work): a coordinator may answer a rejoin with unchanged
    /// metadata from its stable state without a new generation (the test broker does).
    #[serde(default)]
    pub epoch: u64,
}

/// A member's assignment (SyncGroup).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub version: u32,
    /// 0 = none; other values are Connect's `Assignment` error codes (1 = config mismatch).
    pub error: i16,
    pub leader: String,
    pub leader_url: String,
    /// The config offset the leader assigned at: read the config topic this far first.
    pub config_offset: i64,
    /// Everything the member should run after this round.
    pub assigned: BTreeSet<WorkId>,
    /// What the member must stop now (it rejoins right after).
    pub revoked: BTreeSet<WorkId>,
    /// Milliseconds until the leader reassigns departed workers' work (0 = none pending).
    pub delay_ms: u64,
}

pub fn encode<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not Sluice group metadata (mixed Java/Sluice groups are not supported): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = MemberMetadata {
            version: 1,
            url: "http://127.0.0.1:8083".into(),
            config_offset: 7,
            owned: [WorkId::Connector("a".into()), WorkId::Task("a".into(), 0)].into(),
            epoch: 0,
        };
        let bytes = encode(&m);
        assert_eq!(decode::<MemberMetadata>(&bytes).unwrap(), m);
        assert!(decode::<Assignment>(b"\x00\x01binary").is_err());
    }
}
