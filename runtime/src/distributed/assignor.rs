//! Incremental cooperative assignment (KIP-415), as a pure function of what each member owns,
//! the work the config topic defines, and what the leader remembers of its last assignment.
//!
//! - Work a member owns stays with it (stickiness) unless the member holds more than its fair
//!   share; connectors and tasks are balanced separately (each member gets ⌊T/n⌋ or ⌈T/n⌉).
//! - Only moved work is revoked; revoked work is handed out in the next round, after its old
//!   owner stopped it (members rejoin at once after a revocation).
//! - Work of a departed member ("lost": assigned last round to a member that is not in the
//!   group now, owned by nobody) waits `scheduled.rebalance.max.delay.ms` for it to come back,
//!   then goes to the others; 0 moves it at once. Held work counts in the quotas, so survivors
//!   keep theirs. Work assigned to a member that is still here but does not own it (its
//!   SyncGroup failed) is handed out at once. A new leader has no memory, so it assigns lost
//!   work at once.
//! - Work of deleted connectors is revoked; duplicates (two owners) keep the first owner.

use std::collections::{BTreeMap, BTreeSet};

use super::protocol::WorkId;

/// What the leader remembers between rounds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeaderMemory {
    /// What each member was assigned in the last round (departed members: what is held).
    pub previous: BTreeMap<String, BTreeSet<WorkId>>,
    /// When held work of departed members will be reassigned (ms, the caller's clock).
    pub deadline_ms: Option<u64>,
}

/// One member's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberResult {
    pub assigned: BTreeSet<WorkId>,
    pub revoked: BTreeSet<WorkId>,
}

/// The result of a round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Round {
    pub members: BTreeMap<String, MemberResult>,
    /// Milliseconds until held work is reassigned; 0 when nothing is held.
    pub delay_ms: u64,
}

/// Computes a round. `owned` has every member of the new generation (possibly owning nothing).
pub fn assign(owned: &BTreeMap<String, BTreeSet<WorkId>>, work: &BTreeSet<WorkId>, memory: &mut LeaderMemory, now_ms: u64, max_delay_ms: u64) -> Round {
    let mut members: BTreeMap<String, MemberResult> = BTreeMap::new();
    let mut keep: BTreeMap<String, BTreeSet<WorkId>> = BTreeMap::new();
    let mut taken: BTreeSet<WorkId> = BTreeSet::new();
    for (m, items) in owned {
        let r = members.entry(m.clone()).or_default();
        let k = keep.entry(m.clone()).or_default();
        for w in items {
            if work.contains(w) && taken.insert(w.clone()) {
                k.insert(w.clone());
            } else {
                r.revoked.insert(w.clone());
            }
        }
    }
    let lost: BTreeSet<WorkId> = memory
        .previous
        .iter()
        .filter(|(m, _)| !owned.contains_key(*m))
        .flat_map(|(_, items)| items.iter())
        .filter(|w| work.contains(*w) && !taken.contains(*w))
        .cloned()
        .collect();
    let mut to_assign: BTreeSet<WorkId> = work.iter().filter(|w| !taken.contains(*w) && !lost.contains(*w)).cloned().collect();
    let mut held = BTreeSet::new();
    let mut delay_ms = 0;
    if lost.is_empty() {
        memory.deadline_ms = None;
    } else if max_delay_ms > 0 {
        let deadline = *memory.deadline_ms.get_or_insert(now_ms + max_delay_ms);
        if now_ms < deadline {
            delay_ms = deadline - now_ms;
            held = lost;
        } else {
            memory.deadline_ms = None;
            to_assign.extend(lost);
        }
    } else {
        memory.deadline_ms = None;
        to_assign.extend(lost);
    }

    if !members.is_empty() {
        for tasks in [false, true] {
            let held_count = held.iter().filter(|w| w.is_task() == tasks).count();
            balance(&mut keep, &mut members, to_assign.iter().filter(|w| w.is_task() == tasks).cloned().collect(), tasks, held_count);
        }
    }
    let departed: BTreeMap<String, BTreeSet<WorkId>> = memory
        .previous
        .iter()
        .filter(|(m, _)| !owned.contains_key(*m))
        .map(|(m, items)| (m.clone(), items.intersection(&held).cloned().collect::<BTreeSet<_>>()))
        .filter(|(_, items)| !items.is_empty())
        .collect();
    memory.previous = keep.clone().into_iter().chain(departed).collect();
    for (m, k) in keep {
        if let Some(r) = members.get_mut(&m) {
            r.assigned = k;
        }
    }
    Round { members, delay_ms }
}

/// Balances one kind of work (connectors or tasks): trims members above their quota (revoking
/// their greatest items) and gives `new` to members below it. `held` items (of departed
/// members) count in the total, so nobody gives up work to make room the held work will fill.
fn balance(keep: &mut BTreeMap<String, BTreeSet<WorkId>>, members: &mut BTreeMap<String, MemberResult>, new: Vec<WorkId>, tasks: bool, held: usize) {
    let count = |s: &BTreeSet<WorkId>| s.iter().filter(|w| w.is_task() == tasks).count();
    let n = keep.len();
    let total: usize = keep.values().map(count).sum::<usize>() + new.len() + held;
    let (base, extra) = (total / n, total % n);
    // Members owning the most get the larger quotas, so the fewest items move.
    let mut order: Vec<(String, usize)> = keep.iter().map(|(m, s)| (m.clone(), count(s))).collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let quota: BTreeMap<String, usize> = order.iter().enumerate().map(|(i, (m, _))| (m.clone(), base + usize::from(i < extra))).collect();
    for (m, q) in &quota {
        let Some(k) = keep.get_mut(m) else { continue };
        let mine: Vec<WorkId> = k.iter().filter(|w| w.is_task() == tasks).cloned().collect();
        for w in mine.iter().skip(*q) {
            k.remove(w);
            if let Some(r) = members.get_mut(m) {
                r.revoked.insert(w.clone());
            }
        }
    }
    for w in new {
        let target = quota
            .iter()
            .map(|(m, q)| (m, q.saturating_sub(keep.get(m).map(count).unwrap_or(0)), keep.get(m).map(count).unwrap_or(0)))
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.2.cmp(&a.2)).then_with(|| b.0.cmp(a.0)))
            .map(|(m, _, _)| m.clone());
        if let Some(m) = target
            && let Some(k) = keep.get_mut(&m)
        {
            k.insert(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: &str) -> WorkId {
        WorkId::Connector(n.into())
    }
    fn t(n: &str, i: u32) -> WorkId {
        WorkId::Task(n.into(), i)
    }
    fn work(connectors: &[(&str, u32)]) -> BTreeSet<WorkId> {
        connectors.iter().flat_map(|(n, k)| std::iter::once(c(n)).chain((0..*k).map(|i| t(n, i)))).collect()
    }
    fn owned(m: &[(&str, &[WorkId])]) -> BTreeMap<String, BTreeSet<WorkId>> {
        m.iter().map(|(id, w)| (id.to_string(), w.iter().cloned().collect())).collect()
    }
    fn counts(r: &Round) -> Vec<usize> {
        r.members.values().map(|m| m.assigned.iter().filter(|w| w.is_task()).count()).collect()
    }
    fn all_assigned(r: &Round) -> BTreeSet<WorkId> {
        r.members.values().flat_map(|m| m.assigned.iter().cloned()).collect()
    }

    #[test]
    fn spreads_new_work_evenly() {
        let cases: &[(&[(&str, u32)], usize, Vec<usize>)] =
            &[(&[("a", 6)], 3, vec![2, 2, 2]), (&[("a", 4), ("b", 3)], 3, vec![3, 2, 2]), (&[("a", 1)], 2, vec![1, 0]), (&[("a", 5)], 1, vec![5])];
        for (connectors, n, expected) in cases {
            let w = work(connectors);
            let members: BTreeMap<String, BTreeSet<WorkId>> = (0..*n).map(|i| (format!("m{i}"), BTreeSet::new())).collect();
            let r = assign(&members, &w, &mut LeaderMemory::default(), 0, 0);
            let mut got = counts(&r);
            got.sort_by(|a, b| b.cmp(a));
            assert_eq!(&got, expected, "{connectors:?} over {n}");
            assert_eq!(all_assigned(&r), w);
            assert!(r.members.values().all(|m| m.revoked.is_empty()));
        }
    }

    #[test]
    fn sticky_and_only_moved_work_is_revoked() {
        let w = work(&[("a", 6)]);
        let mut mem = LeaderMemory::default();
        let o = owned(&[("m0", &[c("a"), t("a", 0), t("a", 1)]), ("m1", &[t("a", 2), t("a", 3)]), ("m2", &[t("a", 4), t("a", 5)])]);
        let r = assign(&o, &w, &mut mem, 0, 0);
        for (m, items) in &o {
            assert_eq!(&r.members[m].assigned, items, "nothing moves when balanced");
            assert!(r.members[m].revoked.is_empty());
        }
        // A fourth member joins: exactly one task is revoked now and handed over next round.
        let mut o4 = o.clone();
        o4.insert("m3".into(), BTreeSet::new());
        let r = assign(&o4, &w, &mut mem, 0, 0);
        let revoked: Vec<&WorkId> = r.members.values().flat_map(|m| m.revoked.iter()).collect();
        assert_eq!(revoked.len(), 1, "{r:?}");
        assert!(r.members["m3"].assigned.is_empty());
        let next: BTreeMap<String, BTreeSet<WorkId>> = r.members.iter().map(|(m, x)| (m.clone(), x.assigned.clone())).collect();
        let r2 = assign(&next, &w, &mut mem, 0, 0);
        assert_eq!(r2.members["m3"].assigned.iter().collect::<Vec<_>>(), revoked);
        assert!(r2.members.values().all(|m| m.revoked.is_empty()));
        for (m, x) in &next {
            assert!(x.is_subset(&r2.members[m].assigned), "{m} lost work in round 2");
        }
    }

    #[test]
    fn departed_work_waits_for_the_delay() {
        let w = work(&[("a", 6)]);
        let mut mem = LeaderMemory::default();
        let o = owned(&[("m0", &[c("a"), t("a", 0), t("a", 1)]), ("m1", &[t("a", 2), t("a", 3)]), ("m2", &[t("a", 4), t("a", 5)])]);
        assign(&o, &w, &mut mem, 0, 1000);
        let mut gone = o.clone();
        gone.remove("m2");
        let r = assign(&gone, &w, &mut mem, 100, 1000);
        assert_eq!(r.delay_ms, 1000);
        assert!(!all_assigned(&r).contains(&t("a", 4)));
        assert!(r.members.values().all(|m| m.revoked.is_empty()), "survivors keep their work while the delay runs");
        let r = assign(&gone, &w, &mut mem, 600, 1000);
        assert_eq!(r.delay_ms, 500, "the deadline is kept between rounds");
        let r = assign(&gone, &w, &mut mem, 1100, 1000);
        assert_eq!(r.delay_ms, 0);
        assert_eq!(all_assigned(&r), w);
        assert_eq!(counts(&r), vec![3, 3]);
        assert!(r.members.values().all(|m| m.revoked.is_empty()), "survivors keep their work");
        // A member that is still here but never received its work gets it at once.
        let mut mem = LeaderMemory::default();
        let empty: BTreeMap<String, BTreeSet<WorkId>> = ["m0", "m1", "m2"].iter().map(|m| (m.to_string(), BTreeSet::new())).collect();
        assign(&empty, &w, &mut mem, 0, 1000);
        let mut partial = empty.clone();
        partial.insert("m0".into(), mem.previous["m0"].clone());
        let r = assign(&partial, &w, &mut mem, 10, 1000);
        assert_eq!((r.delay_ms, all_assigned(&r)), (0, w.clone()));
        // With no delay it moves at once.
        let mut mem = LeaderMemory::default();
        assign(&o, &w, &mut mem, 0, 0);
        let r = assign(&gone, &w, &mut mem, 1, 0);
        assert_eq!(all_assigned(&r), w);
    }

    #[test]
    fn deleted_and_duplicate_work_is_revoked() {
        let w = work(&[("a", 2)]);
        let o = owned(&[("m0", &[c("a"), t("a", 0), c("gone"), t("gone", 0)]), ("m1", &[t("a", 0), t("a", 1)])]);
        let r = assign(&o, &w, &mut LeaderMemory::default(), 0, 0);
        assert_eq!(r.members["m0"].revoked, [c("gone"), t("gone", 0)].into());
        assert_eq!(r.members["m1"].revoked, [t("a", 0)].into());
        assert!(r.members["m0"].assigned.contains(&t("a", 0)));
    }
}
