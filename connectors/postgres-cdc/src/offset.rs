//! The source partition and offsets, shaped like Debezium's (`{"server": PREFIX}` →
//! `{lsn, txId, ts_usec, ...}`), and what a stored offset means for a restart.
//!
//! A streaming record's offset holds its [`Position`]: the commit LSN of its transaction
//! (`lsn_commit`) and its number within the transaction (`event`, from 1). Records are produced
//! in commit order, so positions only grow; after a restart every record at or before the stored
//! position is skipped. The last record of a transaction, and each heartbeat, also carries
//! `lsn_flush`: the LSN the replication slot may be advanced to once that record is
//! acknowledged (the commit's end, or for a heartbeat the WAL flush point already decoded).
//! Snapshot records carry `snapshot: true` and `last_snapshot_record` as Debezium's do.

use sluice_sdk::{OffsetMap, offset_map};

/// Where a record sits in the change stream; ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub commit_lsn: u64,
    pub event: u64,
}

/// What the stored offset says to do at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// No offset: a new connector.
    Fresh,
    /// A snapshot was started but its last record was never committed.
    SnapshotIncomplete,
    /// Stream, skipping records at or before this position; `flush` is a safe slot position.
    Stream { after: Position, flush: Option<u64> },
}

pub fn partition(prefix: &str) -> OffsetMap {
    offset_map!("server" => prefix)
}

/// The offset of a streaming record.
pub fn streaming(lsn: u64, pos: Position, tx_id: u32, ts_usec: i64) -> OffsetMap {
    offset_map!("lsn" => lsn, "lsn_commit" => pos.commit_lsn, "event" => pos.event, "txId" => tx_id, "ts_usec" => ts_usec)
}

/// Marks an offset as the last of its transaction: the slot may advance to `flush`.
pub fn with_flush(mut offset: OffsetMap, flush: u64) -> OffsetMap {
    offset.insert("lsn_flush".into(), flush.into());
    offset
}

/// The offset of a heartbeat at WAL position `flush`.
pub fn heartbeat(flush: u64, ts_usec: i64) -> OffsetMap {
    with_flush(offset_map!("lsn" => flush, "lsn_commit" => flush, "event" => 0, "ts_usec" => ts_usec), flush)
}

/// The offset of a snapshot record.
pub fn snapshot(lsn: u64, tx_id: i64, ts_usec: i64, last: bool) -> OffsetMap {
    offset_map!("snapshot" => true, "last_snapshot_record" => last, "lsn" => lsn, "txId" => tx_id, "ts_usec" => ts_usec)
}

/// The position an offset stands for (`None` for snapshot records).
pub fn position_of(offset: &OffsetMap) -> Option<Position> {
    Some(Position { commit_lsn: offset.get("lsn_commit")?.as_u64()?, event: offset.get("event")?.as_u64()? })
}

/// The slot position an acknowledged record allows.
pub fn flush_of(offset: &OffsetMap) -> Option<u64> {
    offset.get("lsn_flush")?.as_u64()
}

/// Interprets a stored offset.
pub fn resume(stored: Option<&OffsetMap>) -> Resume {
    let Some(o) = stored else { return Resume::Fresh };
    if o.get("snapshot").and_then(|v| v.as_bool()) == Some(true) {
        return if o.get("last_snapshot_record").and_then(|v| v.as_bool()) == Some(true) {
            Resume::Stream { after: Position::default(), flush: None }
        } else {
            Resume::SnapshotIncomplete
        };
    }
    match position_of(o) {
        Some(after) => Resume::Stream { after, flush: flush_of(o) },
        None => Resume::Fresh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_offsets_say_where_to_resume() {
        assert_eq!(resume(None), Resume::Fresh);
        assert_eq!(resume(Some(&snapshot(5, 1, 2, false))), Resume::SnapshotIncomplete);
        assert_eq!(resume(Some(&snapshot(5, 1, 2, true))), Resume::Stream { after: Position::default(), flush: None });
        let p = Position { commit_lsn: 100, event: 3 };
        assert_eq!(resume(Some(&streaming(90, p, 7, 1))), Resume::Stream { after: p, flush: None });
        assert_eq!(resume(Some(&with_flush(streaming(90, p, 7, 1), 120))), Resume::Stream { after: p, flush: Some(120) });
        assert_eq!(resume(Some(&heartbeat(200, 1))), Resume::Stream { after: Position { commit_lsn: 200, event: 0 }, flush: Some(200) });
        assert!(Position { commit_lsn: 100, event: 3 } < Position { commit_lsn: 101, event: 0 });
    }
}
