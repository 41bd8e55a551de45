//! The sink executor's offset bookkeeping as pure functions (Connect's `WorkerSinkTask`
//! keeps the same maps): the per-partition ranges of a batch handed to `put`, where to rewind
//! to redeliver records, what a revocation forgets, and which offsets a commit must send.
//!
//! Positions are `(topic, partition, offset)` of consumed records. An offset in `current` or
//! `committed` is always *one past* the last record (Kafka's committed-offset meaning: the
//! next record to read).

use std::collections::HashMap;

use sluice_sdk::TopicPartition;

/// The records of one partition in a batch: offsets `first..next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetRange {
    pub partition: TopicPartition,
    /// The offset of the partition's first record in the batch (where a redelivery seeks to).
    pub first: i64,
    /// One past the partition's last record in the batch.
    pub next: i64,
}

fn is(tp: &TopicPartition, topic: &str, partition: i32) -> bool {
    tp.partition == partition && tp.topic == topic
}

/// The range of each partition in a batch, in order of first appearance. A batch holds runs
/// of few partitions, so a short list beats hashing (and allocating) a key per record.
pub fn batch_ranges<'a>(positions: impl IntoIterator<Item = (&'a str, i32, i64)>) -> Vec<OffsetRange> {
    let mut ranges: Vec<OffsetRange> = Vec::new();
    let mut at = 0;
    for (topic, partition, offset) in positions {
        if !ranges.get(at).is_some_and(|r| is(&r.partition, topic, partition)) {
            at = match ranges.iter().position(|r| is(&r.partition, topic, partition)) {
                Some(i) => i,
                None => {
                    ranges.push(OffsetRange { partition: TopicPartition::new(topic, partition), first: offset, next: offset });
                    ranges.len() - 1
                }
            };
        }
        ranges[at].next = offset + 1;
    }
    ranges
}

/// Where to seek each partition so that all of `positions` are consumed again: the lowest
/// offset seen per partition, in order of first appearance.
pub fn rewind_points<'a>(positions: impl IntoIterator<Item = (&'a str, i32, i64)>) -> Vec<(TopicPartition, i64)> {
    let mut first: Vec<(TopicPartition, i64)> = Vec::new();
    for (topic, partition, offset) in positions {
        match first.iter_mut().find(|(tp, _)| is(tp, topic, partition)) {
            Some((_, o)) => *o = (*o).min(offset),
            None => first.push((TopicPartition::new(topic, partition), offset)),
        }
    }
    first
}

/// Whether a position belongs to none of `partitions` (records consumed after a redelivered
/// batch must be rewound only where that batch did not already rewind).
pub fn outside(partitions: &[TopicPartition], topic: &str, partition: i32) -> bool {
    !partitions.iter().any(|tp| is(tp, topic, partition))
}

/// After a successful `put`: each partition of the batch has been consumed up to its range's end.
pub fn advance_put(current: &mut HashMap<TopicPartition, i64>, ranges: Vec<OffsetRange>) {
    current.extend(ranges.into_iter().map(|r| (r.partition, r.next)));
}

/// Records skipped (a tolerated error, or dropped by a transform) count as consumed once the
/// batch around them was put; `current` never moves backwards.
pub fn advance_skipped(current: &mut HashMap<TopicPartition, i64>, skipped: Vec<(TopicPartition, i64)>) {
    for (tp, next) in skipped {
        let slot = current.entry(tp).or_insert(next);
        *slot = (*slot).max(next);
    }
}

/// Revoked partitions leave both maps: their positions belong to the next owner.
pub fn revoke(current: &mut HashMap<TopicPartition, i64>, committed: &mut HashMap<TopicPartition, i64>, revoked: &[TopicPartition]) {
    for tp in revoked {
        current.remove(tp);
        committed.remove(tp);
    }
}

/// The offsets `pre_commit` declared safe that differ from what was last committed.
pub fn to_commit<'a>(safe: &'a HashMap<TopicPartition, i64>, committed: &HashMap<TopicPartition, i64>) -> Vec<(&'a TopicPartition, i64)> {
    safe.iter().filter(|(tp, off)| committed.get(*tp) != Some(*off)).map(|(tp, off)| (tp, *off)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    fn range(t: &str, p: i32, first: i64, next: i64) -> OffsetRange {
        OffsetRange { partition: tp(t, p), first, next }
    }

    #[test]
    fn batch_ranges_per_partition_in_order_of_appearance() {
        let cases: &[(&[(&str, i32, i64)], Vec<OffsetRange>)] = &[
            (&[], vec![]),
            (&[("a", 0, 5)], vec![range("a", 0, 5, 6)]),
            (&[("a", 0, 5), ("a", 0, 6), ("a", 0, 7)], vec![range("a", 0, 5, 8)]),
            // Interleaved partitions and topics with the same partition number.
            (&[("a", 1, 10), ("a", 0, 3), ("a", 1, 11), ("b", 0, 7), ("a", 0, 4)], vec![range("a", 1, 10, 12), range("a", 0, 3, 5), range("b", 0, 7, 8)]),
            // Gaps (compacted topics, transforms that dropped records) keep first and last.
            (&[("a", 0, 2), ("a", 0, 9)], vec![range("a", 0, 2, 10)]),
        ];
        for (positions, want) in cases {
            assert_eq!(&batch_ranges(positions.iter().copied()), want, "{positions:?}");
        }
    }

    #[test]
    fn rewind_points_take_the_lowest_offset_per_partition() {
        let cases: &[(&[(&str, i32, i64)], Vec<(TopicPartition, i64)>)] = &[
            (&[], vec![]),
            (&[("a", 0, 5), ("a", 0, 3), ("a", 0, 9)], vec![(tp("a", 0), 3)]),
            (&[("b", 2, 8), ("a", 2, 1), ("b", 2, 7)], vec![(tp("b", 2), 7), (tp("a", 2), 1)]),
        ];
        for (positions, want) in cases {
            assert_eq!(&rewind_points(positions.iter().copied()), want, "{positions:?}");
        }
    }

    #[test]
    fn outside_compares_topic_and_partition() {
        let rewound = [tp("a", 0), tp("b", 1)];
        for (topic, partition, want) in [("a", 0, false), ("b", 1, false), ("a", 1, true), ("b", 0, true), ("c", 0, true)] {
            assert_eq!(outside(&rewound, topic, partition), want, "{topic}-{partition}");
        }
        assert!(outside(&[], "a", 0));
    }

    #[test]
    fn advancing_after_put_and_skips_never_moves_backwards() {
        // (current before, ranges put, skipped, current after)
        type Case = (Vec<(TopicPartition, i64)>, Vec<OffsetRange>, Vec<(TopicPartition, i64)>, Vec<(TopicPartition, i64)>);
        let cases: Vec<Case> = vec![
            (vec![], vec![range("a", 0, 0, 10)], vec![], vec![(tp("a", 0), 10)]),
            // A skipped record past the batch's last put record moves the position on.
            (vec![], vec![range("a", 0, 0, 10)], vec![(tp("a", 0), 12)], vec![(tp("a", 0), 12)]),
            // A skipped record inside the batch does not move it back.
            (vec![], vec![range("a", 0, 0, 10)], vec![(tp("a", 0), 4)], vec![(tp("a", 0), 10)]),
            // A partition whose records were all skipped gets a position of its own.
            (vec![(tp("a", 0), 3)], vec![], vec![(tp("b", 0), 8)], vec![(tp("a", 0), 3), (tp("b", 0), 8)]),
        ];
        for (before, ranges, skipped, after) in cases {
            let mut current: HashMap<_, _> = before.into_iter().collect();
            advance_put(&mut current, ranges);
            advance_skipped(&mut current, skipped);
            assert_eq!(current, after.into_iter().collect::<HashMap<_, _>>());
        }
    }

    #[test]
    fn revocation_forgets_only_the_revoked_partitions() {
        let mut current: HashMap<_, _> = [(tp("a", 0), 5), (tp("a", 1), 6), (tp("b", 0), 7)].into_iter().collect();
        let mut committed: HashMap<_, _> = [(tp("a", 0), 4), (tp("b", 0), 7)].into_iter().collect();
        revoke(&mut current, &mut committed, &[tp("a", 0), tp("c", 9)]);
        assert_eq!(current, [(tp("a", 1), 6), (tp("b", 0), 7)].into_iter().collect());
        assert_eq!(committed, [(tp("b", 0), 7)].into_iter().collect());
    }

    #[test]
    fn to_commit_holds_only_changed_offsets() {
        let safe: HashMap<_, _> = [(tp("a", 0), 5), (tp("a", 1), 6), (tp("b", 0), 2)].into_iter().collect();
        let committed: HashMap<_, _> = [(tp("a", 0), 5), (tp("a", 1), 3)].into_iter().collect();
        let mut changed: Vec<_> = to_commit(&safe, &committed).into_iter().map(|(tp, o)| (tp.clone(), o)).collect();
        changed.sort_by(|x, y| (&x.0.topic, x.0.partition).cmp(&(&y.0.topic, y.0.partition)));
        assert_eq!(changed, vec![(tp("a", 1), 6), (tp("b", 0), 2)]);
        assert!(to_commit(&committed, &committed).is_empty());
    }
}
