//! The exactly-once state table: per connector and topic-partition, the offset range of the
//! last batch and whether its insert finished.
//!
//! ```sql
//! CREATE TABLE sluice_connect_state (connector String, topic String, partition Int32,
//!     min_offset Int64, max_offset Int64, state UInt8 /* 1 BEFORE, 2 AFTER */,
//!     version UInt64 /* max_offset * 2 + (state = AFTER) */, updated DateTime DEFAULT now())
//! ENGINE = ReplacingMergeTree(version) ORDER BY (connector, topic, partition)
//! ```
//!
//! Protocol per batch `[min, max]` of one partition: write `BEFORE(min, max)`, insert the rows
//! (with `insert_deduplication_token = connector-topic-partition-min-max` where the server has
//! it), write `AFTER(min, max)`. On open the task reads the newest row of each partition
//! (`argMax` by version, so unmerged parts do not matter): after `AFTER(_, max)` it resumes at
//! `max + 1` and drops anything older that is replayed; after `BEFORE(min, max)` the insert may
//! or may not have landed, so it rebuilds exactly the batch `[min, max]` and inserts it again
//! with the same token (the server drops it if the first one landed).

use std::collections::HashMap;

use sluice_sdk::TopicPartition;

use crate::client::{Ch, ChResult, ident, literal};
use crate::rowbinary::put_str;

/// Where a partition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// The insert of `[min, max]` began and may not have finished.
    Before { min: i64, max: i64 },
    /// Everything up to and including `max` is in the table.
    After { max: i64 },
}

#[derive(Clone)]
pub struct StateTable {
    pub table: String,
    pub connector: String,
}

impl StateTable {
    pub async fn ensure(&self, ch: &Ch) -> ChResult<()> {
        ch.execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} (connector String, topic String, partition Int32, min_offset Int64, max_offset Int64, \
             state UInt8, version UInt64, updated DateTime DEFAULT now()) ENGINE = ReplacingMergeTree(version) ORDER BY (connector, topic, partition)",
            ch.qualified(&self.table)
        ))
        .await
    }

    /// The newest state of each partition of this connector.
    pub async fn load(&self, ch: &Ch) -> ChResult<HashMap<TopicPartition, BatchState>> {
        let rows = ch
            .query_json(&format!(
                "SELECT topic, partition, argMax(min_offset, version) AS mn, argMax(max_offset, version) AS mx, argMax(state, version) AS st \
                 FROM {} WHERE connector = {} GROUP BY topic, partition",
                ch.qualified(&self.table),
                literal(&self.connector)
            ))
            .await?;
        let num = |v: &serde_json::Value| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(-1);
        Ok(rows
            .iter()
            .filter_map(|r| {
                let tp = TopicPartition::new(r["topic"].as_str()?, num(&r["partition"]) as i32);
                let (min, max) = (num(&r["mn"]), num(&r["mx"]));
                let state = if num(&r["st"]) == 1 { BatchState::Before { min, max } } else { BatchState::After { max } };
                Some((tp, state))
            })
            .collect())
    }

    /// Records the state of a batch of one or more partitions in one insert.
    pub async fn write(&self, ch: &Ch, ranges: &[(TopicPartition, i64, i64)], after: bool) -> ChResult<()> {
        let mut body = Vec::with_capacity(64 * ranges.len());
        for (tp, min, max) in ranges {
            put_str(&mut body, self.connector.as_bytes());
            put_str(&mut body, tp.topic.as_bytes());
            body.extend_from_slice(&tp.partition.to_le_bytes());
            body.extend_from_slice(&min.to_le_bytes());
            body.extend_from_slice(&max.to_le_bytes());
            body.push(if after { 2 } else { 1 });
            body.extend_from_slice(&((*max as u64) * 2 + after as u64).to_le_bytes());
        }
        let cols = ["connector", "topic", "partition", "min_offset", "max_offset", "state", "version"].map(ident).join(", ");
        ch.insert(&format!("INSERT INTO {} ({cols}) FORMAT RowBinary", ch.qualified(&self.table)), body.into(), &[]).await
    }
}
