//! The binary form of a batch of records, how records cross the WASM boundary to a transform
//! or a predicate (`record-batch` in `sdk/wit/sluice.wit`): one buffer per batch, written and
//! read by this module on both sides, instead of one canonical-ABI record per record (whose
//! per-string allocations in the guest cost more than a typical transform's own work).
//!
//! Little endian, lengths and counts as `u32`:
//!
//! ```text
//! batch   = count records-length record* schema-count schema*
//! schema  = length UTF-8            (Connect's JSON schema form, `wire::schema_text`)
//! record  = 0                       (none: the transform dropped it)
//!         | 1 topic partition timestamp key value header-count header*
//! topic   = length UTF-8
//! partition, timestamp = 0 | 1 i32 / i64
//! key, value = schema-ref value     (value: the binary form of `value_bytes`; in a transform's
//!                                   output, parts unchanged from its input may be tag 14)
//! schema-ref = u32                  (0: no schema; i: the i-th schema of the table)
//! header  = length UTF-8 schema-ref value
//! ```
//!
//! A batch's schemas are listed once, after its records (a stream shares a few schemas; the
//! writer learns which while it writes). Reading trusts nothing: every length and index is
//! checked, and a malformed batch is an error, not a panic.

use crate::value_bytes::{self, Reader};
use crate::wire::{schema_of_text, schema_text};
use sluice_sdk::{ConnectRecord, Header, Headers, SchemaRef, Value};

/// What a transform or predicate sees of a record (source and sink records alike): the fields
/// Kafka Connect's `ConnectRecord` lets a transform change, plus the partition.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRecord {
    pub topic: String,
    pub partition: Option<i32>,
    pub key_schema: Option<SchemaRef>,
    pub key: Value,
    pub value_schema: Option<SchemaRef>,
    pub value: Value,
    pub timestamp: Option<i64>,
    pub headers: Headers,
}

sluice_sdk::connect_record_impl!(BatchRecord, |r| r.partition);

/// Writes a batch: [`BatchWriter::push`] per record, then [`BatchWriter::finish`].
pub struct BatchWriter {
    buf: Vec<u8>,
    count: u32,
    schemas: Vec<SchemaRef>,
}

impl BatchWriter {
    /// A writer with room for `bytes` of records.
    pub fn with_capacity(bytes: usize) -> BatchWriter {
        let mut buf = Vec::with_capacity(bytes + 8);
        buf.extend_from_slice(&[0; 8]);
        BatchWriter { buf, count: 0, schemas: Vec::new() }
    }

    fn len(&mut self, n: usize) {
        self.buf.extend_from_slice(&(n as u32).to_le_bytes());
    }

    /// How many bytes the records pushed so far take.
    pub fn written(&self) -> usize {
        self.buf.len() - 8
    }

    fn text(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn data(&mut self, schema: Option<&SchemaRef>, value: &Value, before: Option<&[u8]>) {
        let index = match schema {
            None => 0,
            Some(s) => match self.schemas.iter().position(|known| std::sync::Arc::ptr_eq(known, s)) {
                Some(i) => i + 1,
                None => {
                    self.schemas.push(s.clone());
                    self.schemas.len()
                }
            },
        };
        self.len(index);
        value_bytes::encode_against(value, before, &mut self.buf);
    }

    /// Appends a record, or `None` for a dropped one.
    pub fn push<R: ConnectRecord>(&mut self, record: Option<&R>) {
        self.push_against(record, None)
    }

    /// Appends a transform's output record, writing the parts of its key and value that are
    /// unchanged from its input as such (`value_bytes::encode_against`): `before` is the input
    /// record's key and value in the batch the transform was given, as [`BatchReader`]
    /// gave them.
    pub fn push_against<R: ConnectRecord>(&mut self, record: Option<&R>, before: Option<(&[u8], &[u8])>) {
        self.count += 1;
        let Some(r) = record else {
            self.buf.push(0);
            return;
        };
        self.buf.push(1);
        self.text(r.topic());
        match r.kafka_partition() {
            Some(p) => {
                self.buf.push(1);
                self.buf.extend_from_slice(&p.to_le_bytes());
            }
            None => self.buf.push(0),
        }
        match r.timestamp() {
            Some(t) => {
                self.buf.push(1);
                self.buf.extend_from_slice(&t.to_le_bytes());
            }
            None => self.buf.push(0),
        }
        self.data(r.key_schema(), r.key(), before.map(|b| b.0));
        self.data(r.value_schema(), r.value(), before.map(|b| b.1));
        let headers = &r.headers().0;
        self.len(headers.len());
        for h in headers {
            self.text(&h.key);
            self.data(h.schema.as_ref(), &h.value, None);
        }
    }

    /// The batch's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let records = self.buf.len() - 8;
        self.buf[0..4].copy_from_slice(&self.count.to_le_bytes());
        self.buf[4..8].copy_from_slice(&(records as u32).to_le_bytes());
        let schemas = std::mem::take(&mut self.schemas);
        self.len(schemas.len());
        for s in &schemas {
            let text = schema_text(s);
            self.text(&text);
        }
        self.buf
    }
}

/// The bytes of a batch of `records` (all present).
pub fn write_batch<'a, R: ConnectRecord + 'a>(records: impl Iterator<Item = &'a R>) -> Vec<u8> {
    let mut w = BatchWriter::with_capacity(0);
    for r in records {
        w.push(Some(r));
    }
    w.finish()
}

/// Where a record's key and value are in its batch's bytes.
pub type Spans = (std::ops::Range<usize>, std::ops::Range<usize>);

/// The records of a batch, `None` where a record was dropped.
pub fn read_batch(bytes: &[u8]) -> Result<Vec<Option<BatchRecord>>, String> {
    read(bytes, false)
}

/// The records of a batch written by a party the reader trusts (a guest reading its host's
/// batch): as [`read_batch`], without checking that strings are UTF-8.
pub fn read_trusted_batch(bytes: &[u8]) -> Result<Vec<Option<BatchRecord>>, String> {
    read(bytes, true)
}

/// Reads a batch one record at a time, so that a guest transforms each record while its bytes
/// are in the cache and reuses the memory of the one before (a whole decoded batch is twice the
/// batch). Records are trusted as [`read_trusted_batch`] trusts them.
pub struct BatchReader<'a> {
    records: Reader<'a>,
    schemas: Vec<SchemaRef>,
    left: usize,
}

impl<'a> BatchReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<BatchReader<'a>, String> {
        Self::open(bytes, true)
    }

    fn open(bytes: &'a [u8], trusted: bool) -> Result<BatchReader<'a>, String> {
        let mut head = Reader::new(bytes);
        let count = head.len()?;
        let records_len = head.len()?;
        let records = head.take(records_len).map_err(|_| format!("records section of {records_len} bytes exceeds the batch"))?;
        let n = head.count(5)?;
        let mut schemas = Vec::with_capacity(n);
        for i in 0..n {
            let text = head.string()?;
            schemas.push(schema_of_text(&text).map_err(|e| format!("schema {} of the batch: {e}", i + 1))?);
        }
        if head.remaining() != 0 {
            return Err(format!("{} bytes after the batch", head.remaining()));
        }
        if count > records.len() {
            return Err(format!("count {count} exceeds the records section"));
        }
        if count == 0 && !records.is_empty() {
            return Err(format!("{} bytes after the last record", records.len()));
        }
        let records = if trusted { Reader::trusting(records) } else { Reader::new(records) };
        Ok(BatchReader { records, schemas, left: count })
    }

    /// How many records are left.
    pub fn len(&self) -> usize {
        self.left
    }

    pub fn is_empty(&self) -> bool {
        self.left == 0
    }

    /// The next record (`None`: dropped) and where its key and value are in the batch's bytes
    /// (for [`BatchWriter::push_against`]); after the last, checks that nothing follows.
    pub fn next_record(&mut self) -> Result<(Option<BatchRecord>, Spans), String> {
        self.step(read_record)
    }

    /// As [`BatchReader::next_record`], decoding into `scratch` (typically the record the
    /// transform returned for the one before): its strings, bytes and vectors are reused.
    pub fn next_record_reusing(&mut self, scratch: Option<BatchRecord>) -> Result<(Option<BatchRecord>, Spans), String> {
        let Some(rec) = scratch else { return self.next_record() };
        self.step(|r, schemas, spans| read_record_into(r, schemas, rec, spans))
    }

    /// Reads one record with `read`, counting it and checking that nothing follows the last.
    fn step<T>(&mut self, read: impl FnOnce(&mut Reader<'a>, &[SchemaRef], &mut Spans) -> Result<T, String>) -> Result<(T, Spans), String> {
        if self.left == 0 {
            return Err("read past the batch's last record".into());
        }
        self.left -= 1;
        let mut spans = (0..0, 0..0);
        let record = read(&mut self.records, &self.schemas, &mut spans)?;
        if self.left == 0 && self.records.remaining() != 0 {
            return Err(format!("{} bytes after the last record", self.records.remaining()));
        }
        Ok((record, spans))
    }
}

/// Reads a transform's output batch over the records it was given (the i-th entry is what
/// became of `records[i]`), in place: the parts of keys and values marked unchanged stay as
/// they are, and the rest reuses the records' memory where the shapes match. A schema the
/// transform left alone comes back as the same `Arc` (`wire::schema_of_text` finds the text
/// that `schema_text` remembered when the batch was written), so it is not set again. Returns, per record, whether it is present
/// (`false`: dropped, left as it was). The partition is not a transform's to change and is
/// ignored. On error the records are partly updated.
pub fn read_batch_over<R: ConnectRecord>(bytes: &[u8], records: &mut [R]) -> Result<Vec<bool>, String> {
    let mut reader = BatchReader::open(bytes, false)?;
    if reader.len() != records.len() {
        return Err(format!("{} records for {}", reader.len(), records.len()));
    }
    records.iter_mut().map(|rec| reader.step(|r, schemas, _| read_record_over(r, schemas, rec)).map(|(present, _)| present)).collect()
}

fn same_schema(a: Option<&SchemaRef>, b: Option<&SchemaRef>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// One output record over `rec` (see [`read_batch_over`]); whether it is present.
fn read_record_over<R: ConnectRecord>(r: &mut Reader<'_>, schemas: &[SchemaRef], rec: &mut R) -> Result<bool, String> {
    if !present(r)? {
        return Ok(false);
    }
    // Compared as bytes first: a topic the transform left alone is not checked as UTF-8.
    let n = r.len()?;
    let at = r.pos;
    let topic = r.take(n)?;
    if topic != rec.topic().as_bytes() {
        rec.set_topic(r.text(topic, at)?.to_string());
    }
    optional::<4>(r)?;
    rec.set_timestamp(optional(r)?.map(i64::from_le_bytes));
    let key_schema = schema_ref(r, schemas)?;
    r.value_over(0, rec.key_mut())?;
    if !same_schema(key_schema.as_ref(), rec.key_schema()) {
        let key = std::mem::take(rec.key_mut());
        rec.set_key(key_schema, key);
    }
    let value_schema = schema_ref(r, schemas)?;
    r.value_over(0, rec.value_mut())?;
    if !same_schema(value_schema.as_ref(), rec.value_schema()) {
        let value = std::mem::take(rec.value_mut());
        rec.set_value(value_schema, value);
    }
    read_headers(r, schemas, rec.headers_mut())?;
    Ok(true)
}

/// Where the records section starts in a batch.
const RECORDS_AT: usize = 8;

fn read(bytes: &[u8], trusted: bool) -> Result<Vec<Option<BatchRecord>>, String> {
    let mut reader = BatchReader::open(bytes, trusted)?;
    let mut out = Vec::with_capacity(reader.len());
    while !reader.is_empty() {
        out.push(reader.next_record()?.0);
    }
    Ok(out)
}

/// A key or value decoded into `slot`; returns its schema; `span` gets where its bytes are.
fn read_data_into(r: &mut Reader<'_>, schemas: &[SchemaRef], slot: &mut Value, span: &mut std::ops::Range<usize>) -> Result<Option<SchemaRef>, String> {
    let schema = schema_ref(r, schemas)?;
    let start = r.pos;
    r.value_into(0, slot)?;
    *span = RECORDS_AT + start..RECORDS_AT + r.pos;
    Ok(schema)
}

/// A schema reference: none, or an entry of the batch's schema table.
#[inline]
fn schema_ref(r: &mut Reader<'_>, schemas: &[SchemaRef]) -> Result<Option<SchemaRef>, String> {
    let at = r.pos;
    Ok(match r.len()? {
        0 => None,
        i => Some(schemas.get(i - 1).cloned().ok_or_else(|| not_in_table(i, at, schemas.len()))?),
    })
}

#[cold]
#[inline(never)]
fn not_in_table(i: usize, at: usize, n: usize) -> String {
    format!("schema {i} at byte {at} is not in the batch's table of {n}")
}

/// A key, value or header value; `span` gets where its value's bytes are in the batch.
fn read_data(r: &mut Reader<'_>, schemas: &[SchemaRef], span: &mut std::ops::Range<usize>) -> Result<(Option<SchemaRef>, Value), String> {
    let schema = schema_ref(r, schemas)?;
    let start = r.pos;
    let value = r.value(0)?;
    *span = RECORDS_AT + start..RECORDS_AT + r.pos;
    Ok((schema, value))
}

/// A record's marker: whether it is present (`false`: dropped by a transform).
#[inline]
fn present(r: &mut Reader<'_>) -> Result<bool, String> {
    let at = r.pos;
    match r.take(1)?[0] {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(bad_marker(other, at)),
    }
}

#[cold]
#[inline(never)]
fn bad_marker(marker: u8, at: usize) -> String {
    format!("record marker {marker} at byte {at}")
}

/// An optional fixed-size field: a presence byte, then `N` bytes.
#[inline]
fn optional<const N: usize>(r: &mut Reader<'_>) -> Result<Option<[u8; N]>, String> {
    match r.take(1)?[0] {
        0 => Ok(None),
        _ => r.array().map(Some),
    }
}

fn read_headers(r: &mut Reader<'_>, schemas: &[SchemaRef], headers: &mut Headers) -> Result<(), String> {
    let n = r.count(9)?;
    headers.0.clear();
    headers.0.reserve(n);
    for _ in 0..n {
        let key = r.string()?;
        let (schema, value) = read_data(r, schemas, &mut (0..0))?;
        headers.0.push(Header { key, schema, value });
    }
    Ok(())
}

fn read_record(r: &mut Reader<'_>, schemas: &[SchemaRef], spans: &mut Spans) -> Result<Option<BatchRecord>, String> {
    if !present(r)? {
        return Ok(None);
    }
    let topic = r.string()?;
    let partition = optional(r)?.map(i32::from_le_bytes);
    let timestamp = optional(r)?.map(i64::from_le_bytes);
    let (key_schema, key) = read_data(r, schemas, &mut spans.0)?;
    let (value_schema, value) = read_data(r, schemas, &mut spans.1)?;
    let mut headers = Headers(Vec::new());
    read_headers(r, schemas, &mut headers)?;
    Ok(Some(BatchRecord { topic, partition, key_schema, key, value_schema, value, timestamp, headers }))
}

/// As [`read_record`], decoding into `rec`'s own strings, bytes and vectors.
fn read_record_into(r: &mut Reader<'_>, schemas: &[SchemaRef], mut rec: BatchRecord, spans: &mut Spans) -> Result<Option<BatchRecord>, String> {
    if !present(r)? {
        return Ok(None);
    }
    r.string_into(&mut rec.topic)?;
    rec.partition = optional(r)?.map(i32::from_le_bytes);
    rec.timestamp = optional(r)?.map(i64::from_le_bytes);
    rec.key_schema = read_data_into(r, schemas, &mut rec.key, &mut spans.0)?;
    rec.value_schema = read_data_into(r, schemas, &mut rec.value, &mut spans.1)?;
    read_headers(r, schemas, &mut rec.headers)?;
    Ok(Some(rec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::{Schema, Struct};
    use std::sync::Arc;

    fn record(i: i64, schema: &SchemaRef) -> BatchRecord {
        BatchRecord {
            topic: format!("orders-{i}"),
            partition: (i % 2 == 0).then_some(i as i32),
            key_schema: None,
            key: Value::Bytes(vec![i as u8, 0xff]),
            value_schema: Some(schema.clone()),
            value: Value::Struct(Struct::new().put("id", Value::Int64(i)).put("name", Value::String(format!("n{i}")))),
            timestamp: (i % 3 != 0).then_some(1_700_000_000_000 + i),
            headers: Headers(vec![Header { key: "h".into(), schema: Some(Schema::string().into()), value: Value::String("v".into()) }]),
        }
    }

    #[test]
    fn a_batch_round_trips_with_each_schema_listed_once() {
        let schema = Schema::struct_builder().name("Row").field("id", Schema::int64()).field("name", Schema::string()).build();
        let records: Vec<BatchRecord> = (0..5).map(|i| record(i, &schema)).collect();
        let mut w = BatchWriter::with_capacity(0);
        for (i, r) in records.iter().enumerate() {
            w.push((i != 2).then_some(r));
        }
        let bytes = w.finish();
        let text = schema_text(&schema);
        assert_eq!(bytes.windows(text.len()).filter(|w| *w == text.as_bytes()).count(), 1, "the schema is written once");
        let back = read_batch(&bytes).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back[2], None);
        for (i, r) in records.iter().enumerate().filter(|(i, _)| *i != 2) {
            assert_eq!(back[i].as_ref(), Some(r));
        }
        assert!(std::sync::Arc::ptr_eq(back[0].as_ref().unwrap().value_schema.as_ref().unwrap(), back[1].as_ref().unwrap().value_schema.as_ref().unwrap()));
    }

    #[test]
    fn a_transform_output_written_against_its_input_reads_back_like_the_input() {
        let schema = Schema::struct_builder().name("Row").field("id", Schema::int64()).field("name", Schema::string()).build();
        let mut input: Vec<BatchRecord> = (0..4).map(|i| record(i, &schema)).collect();
        for r in &mut input {
            r.value = Value::Struct(Struct::new().put("id", Value::Int64(1)).put("name", Value::String("x".repeat(300))));
        }
        let batch = write_batch(input.iter());
        let mut reader = BatchReader::new(&batch).unwrap();
        assert_eq!(reader.len(), 4);
        let mut w = BatchWriter::with_capacity(0);
        let mut expected = Vec::new();
        for i in 0..4 {
            let (r, (k, v)) = reader.next_record().unwrap();
            let mut r = r.unwrap();
            if i == 1 {
                w.push_against::<BatchRecord>(None, None);
                expected.push(None);
                continue;
            }
            if i == 2
                && let Value::Struct(s) = &mut r.value
            {
                s.fields[0].1 = Value::Int64(99);
            }
            w.push_against(Some(&r), Some((&batch[k], &batch[v])));
            expected.push(Some(r));
        }
        assert!(reader.next_record().is_err(), "read past the end");
        let out = w.finish();
        assert!(out.len() < batch.len() / 2, "unchanged names were copied back: {} of {}", out.len(), batch.len());
        let present = read_batch_over(&out, &mut input).unwrap();
        assert_eq!(present, [true, false, true, true]);
        for (i, r) in input.iter().enumerate() {
            if let Some(want) = &expected[i] {
                assert_eq!(r, want);
            }
        }
        assert!(Arc::ptr_eq(input[0].value_schema.as_ref().unwrap(), &schema), "an unchanged schema keeps its identity");
        assert!(read_batch_over(&out, &mut input[..3]).unwrap_err().contains("4 records for 3"));
        assert!(read_batch(&out).is_err(), "markers need the input");
    }

    #[test]
    fn reading_into_the_record_before_gives_the_same_records() {
        let schema = Schema::struct_builder().name("Row").field("id", Schema::int64()).field("name", Schema::string()).build();
        let records: Vec<BatchRecord> = (0..6).map(|i| record(i, &schema)).collect();
        let mut w = BatchWriter::with_capacity(0);
        for (i, r) in records.iter().enumerate() {
            w.push((i != 3).then_some(r));
        }
        let batch = w.finish();
        let (mut plain, mut reusing) = (BatchReader::new(&batch).unwrap(), BatchReader::new(&batch).unwrap());
        let mut scratch = Some(record(99, &schema));
        for _ in 0..6 {
            let want = plain.next_record().unwrap();
            let got = reusing.next_record_reusing(scratch.take()).unwrap();
            assert_eq!(got, want);
            scratch = got.0.or_else(|| Some(record(98, &schema)));
        }
        assert!(reusing.next_record_reusing(scratch).is_err(), "read past the end");
    }

    #[test]
    fn malformed_batches_are_errors_not_panics() {
        let schema = Schema::struct_builder().name("Row").field("id", Schema::int64()).field("name", Schema::string()).build();
        let good = write_batch([record(1, &schema)].iter());
        assert!(read_batch(&[]).is_err());
        for cut in 0..good.len() {
            assert!(read_batch(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = good.clone();
        extra.push(0);
        assert!(read_batch(&extra).unwrap_err().contains("after the batch"));
        let mut huge = good.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_batch(&huge).unwrap_err().contains("exceeds"));
        // A schema index past the table.
        let no_schemas = [
            1u32.to_le_bytes().as_slice(),
            &22u32.to_le_bytes(),
            &[1, 1, 0, 0, 0, b't', 0, 0],
            &7u32.to_le_bytes(),
            &[0],
            &0u32.to_le_bytes(),
            &[0],
            &0u32.to_le_bytes(),
            &0u32.to_le_bytes(),
        ]
        .concat();
        assert!(read_batch(&no_schemas).unwrap_err().contains("not in the batch's table"), "{:?}", read_batch(&no_schemas));
    }
}
