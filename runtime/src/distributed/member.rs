//! The worker's life in the group (Connect's `DistributedHerder.tick` loop): join, let the
//! leader assign (it reads the config topic to its end first), sync, stop revoked work and
//! rejoin at once if anything was revoked, read the config topic to the assignment's offset,
//! start new work, then react to config changes, heartbeat failures and the scheduled
//! rebalance of departed workers' work until the next rebalance.
//!
//! Work that is neither revoked nor new is never touched by a rebalance.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::assignor::{self, LeaderMemory};
use super::config_log::ConfigChange;
use super::herder::{ClusterView, DistributedHerder, owned};
use super::membership::{GroupError, Joined, Membership};
use super::protocol::{self, Assignment, MemberMetadata, PROTOCOL_VERSION, WorkId};
use super::work;

const READ_TIMEOUT: Duration = Duration::from_secs(30);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Heartbeats in the background while `active`; a failure asks for a rejoin of that generation.
fn spawn_heartbeat(m: Arc<Membership>, active: Arc<AtomicBool>, generation: Arc<std::sync::atomic::AtomicI32>, rejoin: watch::Sender<i32>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(m.config.heartbeat_interval).await;
            if !active.load(Ordering::Acquire) {
                continue;
            }
            let generation = generation.load(Ordering::Acquire);
            match m.heartbeat().await {
                Ok(()) => {}
                Err(e) => {
                    if !active.swap(false, Ordering::AcqRel) {
                        continue;
                    }
                    match &e {
                        GroupError::Rejoin(_) => tracing::info!(generation, "group is rebalancing; rejoining"),
                        other => tracing::warn!(generation, error = %other, "heartbeat failed; rejoining"),
                    }
                    let _ = rejoin.send(generation);
                }
            }
            if rejoin.is_closed() {
                return;
            }
        }
    });
}

/// The leader's assignment for every member.
async fn leader_assign(
    h: &DistributedHerder,
    joined: &Joined,
    memory: &mut LeaderMemory,
    max_delay_ms: u64,
) -> (Vec<(String, Bytes)>, std::collections::BTreeSet<WorkId>) {
    if let Err(e) = h.config_log.read_to_end(READ_TIMEOUT).await {
        tracing::warn!(error = %e, "leader could not read the config topic to its end");
    }
    let s = h.snapshot();
    let mut owned_by: BTreeMap<String, std::collections::BTreeSet<WorkId>> = BTreeMap::new();
    let mut urls = BTreeMap::new();
    for (member, meta) in &joined.members {
        match protocol::decode::<MemberMetadata>(meta) {
            Ok(m) => {
                owned_by.insert(member.clone(), m.owned);
                urls.insert(member.clone(), m.url);
            }
            Err(e) => {
                tracing::error!(member, error = %e, "cannot read a member's metadata; it gets no work");
                urls.insert(member.clone(), String::new());
            }
        }
    }
    let work = s.work();
    let round = assignor::assign(&owned_by, &work, memory, now_ms(), max_delay_ms);
    tracing::info!(
        generation = joined.generation,
        members = joined.members.len(),
        work = work.len(),
        delay_ms = round.delay_ms,
        "leader computed the assignment"
    );
    let assignments = urls
        .keys()
        .map(|member| {
            let r = round.members.get(member).cloned().unwrap_or_default();
            let a = Assignment {
                version: PROTOCOL_VERSION,
                error: 0,
                leader: joined.member_id.clone(),
                leader_url: h.url.clone(),
                config_offset: s.offset,
                assigned: r.assigned,
                revoked: r.revoked,
                delay_ms: round.delay_ms,
            };
            (member.clone(), protocol::encode(&a))
        })
        .collect();
    (assignments, work)
}

fn set_view(h: &DistributedHerder, view: ClusterView) {
    if let Ok(mut v) = h.view.lock() {
        *v = view;
    }
}

/// Runs until `shutdown` turns true; then stops all work and leaves the group.
pub async fn run(
    h: Arc<DistributedHerder>,
    m: Arc<Membership>,
    mut changes: mpsc::UnboundedReceiver<ConfigChange>,
    mut shutdown: watch::Receiver<bool>,
    max_delay_ms: u64,
) {
    let active = Arc::new(AtomicBool::new(false));
    let (rejoin_tx, mut rejoin_rx) = watch::channel(-1);
    spawn_heartbeat(m.clone(), active.clone(), h.generation.clone(), rejoin_tx);
    let mut memory = LeaderMemory::default();
    let mut epoch = 0u64;
    'rebalance: loop {
        active.store(false, Ordering::Release);
        if let Ok(mut v) = h.view.lock() {
            v.rebalancing = true;
        }
        let meta = MemberMetadata { version: PROTOCOL_VERSION, url: h.url.clone(), config_offset: h.snapshot().offset, owned: owned(&h).await, epoch };
        let joined = tokio::select! {
            j = m.join(protocol::encode(&meta)) => j,
            _ = stopped(&mut shutdown) => break 'rebalance,
        };
        let joined = match joined {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "JoinGroup failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        h.generation.store(joined.generation, Ordering::Release);
        let (assignments, assigned_work) =
            if joined.is_leader() { leader_assign(&h, &joined, &mut memory, max_delay_ms).await } else { (Vec::new(), Default::default()) };
        let synced = tokio::select! {
            r = m.sync(&joined, assignments) => r,
            _ = stopped(&mut shutdown) => break 'rebalance,
        };
        let bytes = match synced {
            Ok(b) => b,
            Err(e) => {
                tracing::info!(error = %e, "SyncGroup failed; rejoining");
                continue;
            }
        };
        let a: Assignment = match protocol::decode(&bytes) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the assignment; rejoining");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        active.store(true, Ordering::Release);
        set_view(&h, ClusterView { rebalancing: false, is_leader: joined.is_leader(), leader_url: Some(a.leader_url.clone()), generation: joined.generation });
        tracing::info!(
            generation = joined.generation,
            leader = joined.is_leader(),
            assigned = a.assigned.len(),
            revoked = a.revoked.len(),
            delay_ms = a.delay_ms,
            "joined the group"
        );
        // Stop revoked work (and anything no longer ours), then rejoin at once if anything was.
        let running: Vec<WorkId> = owned(&h).await.into_iter().collect();
        let to_stop: Vec<WorkId> = running.into_iter().filter(|w| a.revoked.contains(w) || !a.assigned.contains(w)).collect();
        futures::future::join_all(to_stop.iter().map(|w| work::stop(&h, w))).await;
        if !a.revoked.is_empty() {
            tracing::info!(revoked = ?a.revoked.iter().map(ToString::to_string).collect::<Vec<_>>(), "work revoked; rejoining");
            continue;
        }
        if let Err(e) = h.config_log.read_to_end(READ_TIMEOUT).await {
            tracing::warn!(error = %e, "cannot read the config topic to its end; rejoining");
            continue;
        }
        let running = owned(&h).await;
        let new: Vec<&WorkId> = a.assigned.iter().filter(|w| !running.contains(*w)).collect();
        for w in new.iter().filter(|w| !w.is_task()) {
            work::start(&h, w).await;
        }
        futures::future::join_all(new.iter().filter(|w| w.is_task()).map(|w| work::start(&h, w))).await;
        h.started.store(true, Ordering::Release);
        let scheduled = (a.delay_ms > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(a.delay_ms));
        loop {
            let generation = joined.generation;
            tokio::select! {
                r = rejoin_rx.changed() => {
                    let requested = *rejoin_rx.borrow();
                    if r.is_err() || requested == generation {
                        continue 'rebalance;
                    }
                }
                Some(change) = changes.recv() => {
                    work::apply_change(&h, &change).await;
                    if joined.is_leader() && h.snapshot().work() != assigned_work {
                        tracing::info!(?change, "connectors or tasks changed; rebalancing");
                        epoch += 1;
                        continue 'rebalance;
                    }
                }
                _ = async { if let Some(at) = scheduled { tokio::time::sleep_until(at).await } else { std::future::pending::<()>().await } } => {
                    tracing::info!("scheduled rebalance for departed workers' work");
                    epoch += 1;
                    continue 'rebalance;
                }
                _ = stopped(&mut shutdown) => break 'rebalance,
            }
        }
    }
    active.store(false, Ordering::Release);
    h.worker.stop_all().await;
    m.leave().await;
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}
