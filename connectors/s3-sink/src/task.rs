//! The sink task: buffers each Kafka partition's records in open files (one per encoded
//! partition), rotates them, uploads them, and tells the runtime which offsets are safe.
//!
//! Per Kafka partition, the open files form one *commit*: they are uploaded together when
//! `flush.size` records were written since the last commit, when a record's timestamp is
//! `rotate.interval.ms` past the commit's first one, when the value schema changes (see
//! [`crate::config::SchemaCompatibility`]), when the partition's buffer passes
//! `buffer.partition.max.bytes`, or on the `rotate.schedule.interval.ms` wall-clock schedule.
//! The first four depend on the records alone, so a replay writes the same objects with the same
//! bytes. Only after every object of a commit is uploaded does `pre_commit` report its offset.
//!
//! Uploads run in the background while the next files fill (one commit in flight per
//! partition): the next commit of that partition, `pre_commit` and `put` wait for it or collect
//! its outcome. A failed upload puts its remaining objects back as pending, retried first.
//!
//! At `open` the task lists the partition's objects, takes the one with the highest start
//! offset and reads its next-offset metadata; it rewinds the consumer there and drops any
//! replayed record below it, so a crash between upload and offset commit writes nothing twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Offset, TimeZone, Utc};
use sluice_sdk::{ConnectError, ConnectResult, Props, SchemaRef, SinkRecord, SinkTask, SinkTaskContext, TopicPartition, async_trait};

use crate::config::{S3SinkConfig, SchemaCompatibility};
use crate::format::{RecordWriter, new_writer};
use crate::storage::{CommitMeta, S3Storage};

struct OpenFile {
    key: String,
    writer: Box<dyn RecordWriter>,
}

/// The state of one Kafka partition.
#[derive(Default)]
struct PartitionWriter {
    /// Open files by encoded partition (sorted, so uploads happen in a stable order).
    files: BTreeMap<String, OpenFile>,
    /// Finished objects of a commit whose upload has not completed yet, and that commit's offset.
    pending: Objects,
    pending_first: i64,
    pending_next: i64,
    pending_files: usize,
    /// The upload of the previous commit (whose objects left `pending`), if still running or
    /// not yet collected; on failure it hands back the objects it did not store.
    inflight: Option<Inflight>,
    /// Records written to the open files.
    count: u64,
    /// The first record's offset in the open files.
    first_offset: Option<i64>,
    /// The extracted timestamp of the first record in the open files (rotate.interval.ms).
    base_ts: Option<i64>,
    /// Wall-clock ms at which the open files rotate (rotate.schedule.interval.ms).
    scheduled_at: Option<i64>,
    /// One past the last record handled; records below are replays and are skipped.
    next_offset: Option<i64>,
    /// The schema of the open files.
    schema: Option<SchemaRef>,
}

type Objects = Vec<(String, bytes::Bytes)>;

struct Inflight {
    handle: tokio::task::JoinHandle<Result<(), (ConnectError, Objects)>>,
    bytes: usize,
}

impl PartitionWriter {
    fn buffered(&self) -> usize {
        self.files.values().map(|f| f.writer.buffered_bytes()).sum::<usize>()
            + self.pending.iter().map(|(_, b)| b.len()).sum::<usize>()
            + self.inflight.as_ref().map_or(0, |u| u.bytes)
    }

    fn has_data(&self) -> bool {
        !self.files.is_empty() || !self.pending.is_empty() || self.inflight.is_some()
    }

    /// Whether a commit is finished but not known to be stored.
    fn uploading(&self) -> bool {
        !self.pending.is_empty() || self.inflight.is_some()
    }

    /// Waits for the upload in flight; objects it could not store become pending again.
    async fn settle(&mut self) -> ConnectResult<()> {
        let Some(u) = self.inflight.take() else { return Ok(()) };
        match u.handle.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((e, rest))) => {
                self.pending = rest;
                Err(e)
            }
            Err(join) => Err(ConnectError::retriable(format!("S3 upload task ended: {join}"))),
        }
    }

    /// Collects the upload in flight if it has ended (never waits).
    async fn settle_if_done(&mut self) -> ConnectResult<()> {
        if self.inflight.as_ref().is_some_and(|u| u.handle.is_finished()) { self.settle().await } else { Ok(()) }
    }

    fn abort_upload(&mut self) {
        if let Some(u) = self.inflight.take() {
            u.handle.abort();
        }
    }
}

/// `S3SinkTask`.
#[derive(Default)]
pub struct S3SinkTask {
    cfg: Option<S3SinkConfig>,
    storage: Option<S3Storage>,
    ctx: Option<Arc<dyn SinkTaskContext>>,
    partitions: HashMap<TopicPartition, PartitionWriter>,
}

fn not_started() -> ConnectError {
    ConnectError::fatal("S3 sink task used before start")
}

impl S3SinkTask {
    fn parts(&self) -> ConnectResult<(&S3SinkConfig, &S3Storage)> {
        match (&self.cfg, &self.storage) {
            (Some(c), Some(s)) => Ok((c, s)),
            _ => Err(not_started()),
        }
    }

    /// `topics.dir/TOPIC/ENCODED/TOPIC+PARTITION+OFFSET.EXT`.
    fn object_key(cfg: &S3SinkConfig, tp: &TopicPartition, encoded: &str, offset: i64) -> String {
        let d = &cfg.directory_delim;
        let f = &cfg.file_delim;
        let prefix = if cfg.topics_dir.is_empty() { String::new() } else { format!("{}{d}", cfg.topics_dir) };
        format!(
            "{prefix}{topic}{d}{encoded}{d}{topic}{f}{p}{f}{offset:0width$}{ext}",
            topic = tp.topic,
            p = tp.partition,
            width = cfg.zero_pad,
            ext = cfg.extension()
        )
    }

    /// Finishes the open files of `tp` and starts their upload, after the previous commit's
    /// upload completed (so commits are stored in offset order).
    async fn commit(&mut self, tp: &TopicPartition) -> ConnectResult<()> {
        let storage = self.storage.clone().ok_or_else(not_started)?;
        let Some(pw) = self.partitions.get_mut(tp) else { return Ok(()) };
        pw.settle().await?;
        if !pw.pending.is_empty() {
            // An earlier commit failed to upload: store it first, keeping the order.
            upload_pending(&storage, pw).await?;
        }
        if !pw.files.is_empty() {
            let files = std::mem::take(&mut pw.files);
            pw.pending_next = pw.next_offset.unwrap_or_default();
            pw.pending_first = pw.first_offset.unwrap_or(pw.pending_next);
            pw.pending_files = files.len();
            for (_, f) in files {
                let bytes = f.writer.finish()?;
                pw.pending.push((f.key, bytes.into()));
            }
            pw.count = 0;
            pw.first_offset = None;
            pw.base_ts = None;
            pw.scheduled_at = None;
            start_upload(&storage, pw);
        }
        Ok(())
    }

    /// Writes one record of `tp`, rotating before or after as the rules say.
    async fn write_record(&mut self, tp: &TopicPartition, r: &SinkRecord) -> ConnectResult<()> {
        let cfg = self.cfg.as_ref().ok_or_else(not_started)?;
        let pw = writer_of(&mut self.partitions, tp);
        if pw.next_offset.is_some_and(|n| r.kafka_offset < n) {
            return Ok(()); // a replay of a record already written or uploaded
        }
        if r.value.is_null() {
            if cfg.ignore_null_values {
                pw.next_offset = Some(r.kafka_offset + 1);
                return Ok(());
            }
            return Err(ConnectError::data(format!("null value at {tp} offset {}: set behavior.on.null.values=ignore to skip tombstones", r.kafka_offset)));
        }
        let ts = match (cfg.rotate_interval_ms, &cfg.partitioner) {
            (Some(_), _) | (_, crate::partitioner::PartitionerKind::TimeBased { .. }) => Some(cfg.extractor.extract(r)?),
            _ => None,
        };
        let encoded = cfg.partitioner.encode(r, &cfg.extractor, &cfg.directory_delim)?;
        // Rotation before the record: pending uploads, schema change, record time.
        let mut rotate = !pw.pending.is_empty() || cfg.flush_size <= pw.count;
        let mut adopt_schema = None;
        if let (Some(cur), Some(new)) = (&pw.schema, &r.value_schema)
            && !Arc::ptr_eq(cur, new)
            && cur != new
        {
            let newer = match (cur.version, new.version) {
                (Some(a), Some(b)) => b > a,
                _ => true,
            };
            match cfg.schema_compatibility {
                SchemaCompatibility::None => {
                    rotate = true;
                    adopt_schema = Some(new.clone());
                }
                _ if newer => {
                    rotate = true;
                    adopt_schema = Some(new.clone());
                }
                _ => {} // an older version: projected onto the open files' schema
            }
        }
        if let (Some(interval), Some(base), Some(t)) = (cfg.rotate_interval_ms, pw.base_ts, ts)
            && t - base >= interval
        {
            rotate = true;
        }
        if rotate && pw.has_data() {
            self.commit(tp).await?;
        }
        let cfg = self.cfg.as_ref().ok_or_else(not_started)?;
        let pw = writer_of(&mut self.partitions, tp);
        // After a commit, NONE starts the next files with the record's schema; the other modes
        // keep the newest version seen, so an older record does not reopen an old version.
        let keep_newest = cfg.schema_compatibility != SchemaCompatibility::None;
        let adopt = adopt_schema.or_else(|| match &pw.schema {
            None => r.value_schema.clone(),
            Some(_) if pw.files.is_empty() && !keep_newest => r.value_schema.clone(),
            Some(_) => None,
        });
        if let Some(s) = adopt {
            pw.schema = Some(s);
        }
        if cfg.format.needs_schema() && pw.schema.is_none() {
            return Err(ConnectError::data(format!("{tp} offset {}: this format needs records with a value schema", r.kafka_offset)));
        }
        match pw.files.get_mut(&encoded) {
            Some(f) => f.writer.write(r)?,
            None => {
                let key = Self::object_key(cfg, tp, &encoded, r.kafka_offset);
                let mut writer = new_writer(cfg, pw.schema.as_ref(), &key)?;
                writer.write(r)?;
                pw.files.insert(encoded, OpenFile { key, writer });
            }
        }
        pw.count += 1;
        pw.first_offset.get_or_insert(r.kafka_offset);
        if let Some(t) = ts {
            pw.base_ts.get_or_insert(t);
        }
        if let Some(interval) = cfg.rotate_schedule_interval_ms
            && pw.scheduled_at.is_none()
        {
            pw.scheduled_at = Some(next_schedule(Utc::now().timestamp_millis(), interval, &cfg.timezone));
        }
        pw.next_offset = Some(r.kafka_offset + 1);
        // Rotation after the record: size.
        if pw.count >= cfg.flush_size || pw.buffered() >= cfg.buffer_partition_max {
            self.commit(tp).await?;
        }
        Ok(())
    }

    /// Commits partitions whose wall-clock schedule is due, and the largest one while the
    /// task's total buffer is over its limit.
    async fn housekeeping(&mut self) -> ConnectResult<()> {
        let cfg = self.cfg.as_ref().ok_or_else(not_started)?;
        let now = Utc::now().timestamp_millis();
        let due: Vec<TopicPartition> = self.partitions.iter().filter(|(_, pw)| pw.scheduled_at.is_some_and(|t| now >= t)).map(|(tp, _)| tp.clone()).collect();
        let limit = cfg.buffer_total_max;
        for tp in due {
            self.commit(&tp).await?;
        }
        for _ in 0..self.partitions.len() {
            if self.partitions.values().map(PartitionWriter::buffered).sum::<usize>() <= limit {
                break;
            }
            let Some(largest) = self.partitions.iter().max_by_key(|(_, pw)| pw.buffered()).map(|(tp, _)| tp.clone()) else { break };
            tracing::warn!(partition = %largest, limit, "buffer.total.max.bytes reached: committing the largest partition early (file boundaries now depend on timing)");
            self.commit(&largest).await?;
        }
        Ok(())
    }

    /// The next offset to read of `tp` according to the bucket.
    async fn recover(storage: &S3Storage, cfg: &S3SinkConfig, tp: &TopicPartition, listing: &mut HashMap<String, Vec<String>>) -> ConnectResult<Option<i64>> {
        let d = &cfg.directory_delim;
        let prefix = if cfg.topics_dir.is_empty() { format!("{}{d}", tp.topic) } else { format!("{}{d}{}{d}", cfg.topics_dir, tp.topic) };
        if !listing.contains_key(&prefix) {
            let keys = storage.list(&prefix).await?;
            listing.insert(prefix.clone(), keys);
        }
        let file_prefix = format!("{}{f}{}{f}", tp.topic, tp.partition, f = cfg.file_delim);
        let ext = cfg.extension();
        let starts: Vec<(i64, &String)> = listing
            .get(&prefix)
            .into_iter()
            .flatten()
            .filter_map(|key| {
                let name = key.rsplit(d.as_str()).next().unwrap_or(key);
                let start = name.strip_prefix(&file_prefix)?.strip_suffix(&ext)?.parse::<i64>().ok()?;
                Some((start, key))
            })
            .collect();
        let mut newest_first = starts.clone();
        newest_first.sort_by_key(|(s, _)| std::cmp::Reverse(*s));
        let Some(&(newest, _)) = newest_first.first() else { return Ok(None) };
        // The newest commit's metadata, from its newest object that has it: an object whose
        // upload was cut off can exist without its metadata on stores that write the two
        // separately (s3s-fs), while AWS S3 stores them together.
        for &(_, key) in newest_first.iter().take(64) {
            if let Some(m) = storage.commit_meta_of(key).await? {
                // That commit is complete when all its objects (those starting at or after its
                // first offset) are there; else it is written again from its first offset.
                return Ok(Some(if starts.iter().filter(|(s, _)| *s >= m.first).count() >= m.files { m.next } else { m.first }));
            }
        }
        // Not ours (another tool wrote them): rewrite from the newest object's start.
        Ok(Some(newest))
    }
}

/// The next wall-clock rotation after `now`, on the `interval` grid aligned to the zone's midnight.
fn next_schedule(now: i64, interval: i64, tz: &chrono_tz::Tz) -> i64 {
    let offset = tz.timestamp_millis_opt(now).single().map(|t| t.offset().fix().local_minus_utc() as i64 * 1000).unwrap_or(0);
    let local = now + offset;
    (local.div_euclid(interval) + 1) * interval - offset
}

/// The writer of `tp`, created if missing (looked up first: no copy of the topic name per record).
fn writer_of<'a>(partitions: &'a mut HashMap<TopicPartition, PartitionWriter>, tp: &TopicPartition) -> &'a mut PartitionWriter {
    if !partitions.contains_key(tp) {
        partitions.insert(tp.clone(), PartitionWriter::default());
    }
    partitions.get_mut(tp).expect("the writer was inserted above")
}

/// Uploads the pending objects of one commit, removing each once stored.
async fn upload_pending(storage: &S3Storage, pw: &mut PartitionWriter) -> ConnectResult<()> {
    let meta = CommitMeta { first: pw.pending_first, next: pw.pending_next, files: pw.pending_files };
    let objects = std::mem::take(&mut pw.pending);
    upload(storage, objects, meta).await.map_err(|(e, rest)| {
        pw.pending = rest;
        e
    })
}

/// Starts uploading the pending objects in the background.
fn start_upload(storage: &S3Storage, pw: &mut PartitionWriter) {
    let meta = CommitMeta { first: pw.pending_first, next: pw.pending_next, files: pw.pending_files };
    let objects = std::mem::take(&mut pw.pending);
    let bytes = objects.iter().map(|(_, b)| b.len()).sum();
    let storage = storage.clone();
    let handle = tokio::spawn(async move { upload(&storage, objects, meta).await });
    pw.inflight = Some(Inflight { handle, bytes });
}

/// Stores `objects` in order; on failure, the error and the objects not stored.
async fn upload(storage: &S3Storage, objects: Objects, meta: CommitMeta) -> Result<(), (ConnectError, Objects)> {
    let mut rest = objects.into_iter();
    while let Some((key, bytes)) = rest.next() {
        let len = bytes.len();
        if let Err(e) = storage.put(&key, bytes.clone(), meta).await {
            let mut left = vec![(key, bytes)];
            left.extend(rest);
            return Err((e, left));
        }
        tracing::debug!(key = %key, bytes = len, "uploaded");
    }
    Ok(())
}

#[async_trait]
impl SinkTask for S3SinkTask {
    async fn start(&mut self, props: Props, ctx: Arc<dyn SinkTaskContext>) -> ConnectResult<()> {
        let cfg = S3SinkConfig::parse(&props)?;
        let storage = S3Storage::new(&cfg).await;
        storage.check_bucket().await?;
        self.cfg = Some(cfg);
        self.storage = Some(storage);
        self.ctx = Some(ctx);
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> ConnectResult<()> {
        let (cfg, storage) = self.parts()?;
        let (cfg, storage) = (cfg.clone(), storage.clone());
        let mut listing = HashMap::new();
        let mut resets = HashMap::new();
        for tp in partitions {
            if self.partitions.get(tp).is_some_and(PartitionWriter::has_data) {
                // Records arrived before `open` (a runtime that calls put first): keep them.
                continue;
            }
            let next = Self::recover(&storage, &cfg, tp, &mut listing).await?;
            let pw = PartitionWriter { next_offset: next, ..PartitionWriter::default() };
            self.partitions.insert(tp.clone(), pw);
            if let Some(n) = next {
                let connector = self.ctx.as_ref().map(|c| c.connector().to_string()).unwrap_or_default();
                tracing::info!(connector, partition = %tp, next_offset = n, "recovered the partition's position from the bucket");
                resets.insert(tp.clone(), n);
            }
        }
        if let (Some(ctx), false) = (&self.ctx, resets.is_empty()) {
            ctx.reset_offsets(resets);
        }
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        // Failures of background uploads surface here; retries of an earlier failed upload
        // come first, so commits stay in offset order.
        for pw in self.partitions.values_mut() {
            pw.settle_if_done().await?;
        }
        let with_pending: Vec<TopicPartition> = self.partitions.iter().filter(|(_, pw)| !pw.pending.is_empty()).map(|(tp, _)| tp.clone()).collect();
        for tp in with_pending {
            self.commit(&tp).await?;
        }
        let mut tp = TopicPartition::new("", -1);
        for r in &records {
            if tp.partition != r.kafka_partition || tp.topic != r.topic {
                tp = TopicPartition::new(r.topic.clone(), r.kafka_partition);
            }
            self.write_record(&tp, r).await?;
        }
        self.housekeeping().await
    }

    async fn pre_commit(&mut self, offsets: &HashMap<TopicPartition, i64>) -> ConnectResult<HashMap<TopicPartition, i64>> {
        let mut collected = Ok(());
        for pw in self.partitions.values_mut() {
            collected = collected.and(pw.settle_if_done().await);
        }
        if let Err(e) = collected.and(self.housekeeping().await) {
            if !e.is_retriable() {
                return Err(e);
            }
            tracing::warn!(error = %e, "S3 unavailable; offsets stay at the last uploaded commit");
        }
        let mut safe = HashMap::new();
        for (tp, off) in offsets {
            match self.partitions.get(tp) {
                Some(pw) if pw.uploading() => {
                    safe.insert(tp.clone(), pw.pending_first);
                }
                Some(pw) if !pw.files.is_empty() => {
                    if let Some(first) = pw.first_offset {
                        safe.insert(tp.clone(), first);
                    }
                }
                _ => {
                    safe.insert(tp.clone(), *off);
                }
            }
        }
        Ok(safe)
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> ConnectResult<()> {
        for tp in partitions {
            // Buffered records are dropped: the next owner re-reads them from the committed
            // offset (and an upload cut off leaves no object, or one with the same bytes).
            if let Some(mut pw) = self.partitions.remove(tp) {
                pw.abort_upload();
            }
        }
        Ok(())
    }

    async fn stop(&mut self) {
        for pw in self.partitions.values_mut() {
            pw.abort_upload();
        }
        self.partitions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_aligns_to_the_zone() {
        // 2026-01-01T01:03:04Z, hourly → 02:00Z.
        assert_eq!(next_schedule(1_767_229_384_000, 3_600_000, &chrono_tz::UTC), 1_767_232_800_000);
        let kolkata: chrono_tz::Tz = "Asia/Kolkata".parse().unwrap(); // +05:30: hours start at :30 UTC
        assert_eq!(next_schedule(1_767_229_384_000, 3_600_000, &kolkata), 1_767_231_000_000);
    }
}
