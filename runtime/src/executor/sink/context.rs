//! The contexts of a sink task: the consumer context that forwards rebalances to the executor
//! loop, and the [`SinkTaskContext`] handed to the task (Connect's `WorkerSinkTaskContext`),
//! whose requests (pause, resume, reset offsets, commit) the loop applies between batches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::{ClientContext, TopicPartitionList};
use sluice_sdk::{ErrantRecordReporter, SinkTaskContext, TopicPartition};
use tokio::sync::mpsc;

pub(super) enum RebalanceEvent {
    Assigned(Vec<TopicPartition>),
    Revoked(Vec<TopicPartition>),
}

fn tpl_to_vec(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements().iter().map(|e| TopicPartition::new(e.topic(), e.partition())).collect()
}

/// Consumer context: forwards rebalances to the executor loop.
pub(super) struct SinkConsumerContext {
    pub(super) events: mpsc::UnboundedSender<RebalanceEvent>,
}

impl ClientContext for SinkConsumerContext {}

impl ConsumerContext for SinkConsumerContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let _ = self.events.send(RebalanceEvent::Revoked(tpl_to_vec(tpl)));
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let _ = self.events.send(RebalanceEvent::Assigned(tpl_to_vec(tpl)));
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "consumer rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "consumer offset commit failed; it is retried at the next commit");
        }
    }
}

pub(super) enum ContextRequest {
    Pause(Vec<TopicPartition>),
    Resume(Vec<TopicPartition>),
    Reset(HashMap<TopicPartition, i64>),
}

/// The [`SinkTaskContext`] handed to the task; requests are applied by the executor loop.
pub(super) struct ExecutorSinkContext {
    pub(super) connector: String,
    pub(super) task_id: usize,
    pub(super) assignment: Mutex<Vec<TopicPartition>>,
    pub(super) requests: Mutex<Vec<ContextRequest>>,
    pub(super) commit_requested: AtomicBool,
    pub(super) reporter: Option<Arc<dyn ErrantRecordReporter>>,
}

impl ExecutorSinkContext {
    fn push(&self, r: ContextRequest) {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).push(r);
    }
}

impl SinkTaskContext for ExecutorSinkContext {
    fn connector(&self) -> &str {
        &self.connector
    }
    fn task_id(&self) -> usize {
        self.task_id
    }
    fn assignment(&self) -> Vec<TopicPartition> {
        self.assignment.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn pause(&self, partitions: &[TopicPartition]) {
        self.push(ContextRequest::Pause(partitions.to_vec()));
    }
    fn resume(&self, partitions: &[TopicPartition]) {
        self.push(ContextRequest::Resume(partitions.to_vec()));
    }
    fn request_commit(&self) {
        self.commit_requested.store(true, Ordering::Relaxed);
    }
    fn reset_offsets(&self, offsets: HashMap<TopicPartition, i64>) {
        self.push(ContextRequest::Reset(offsets));
    }
    fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>> {
        self.reporter.clone()
    }
}
