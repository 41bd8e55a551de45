//! The compact binary form of a [`Value`], how structured values cross the WASM boundary
//! (`payload::structured` in `sdk/wit/sluice.wit`): one tag byte, then the content, little
//! endian, lengths and counts as `u32`.
//!
//! | tag | value | content |
//! |---|---|---|
//! | 0 | null | — |
//! | 1, 2, 3, 4 | int8, int16, int32, int64 | 1, 2, 4, 8 bytes |
//! | 5, 6 | float32, float64 | 4, 8 bytes |
//! | 7, 8 | false, true | — |
//! | 9 | string | length, UTF-8 |
//! | 10 | bytes | length, bytes |
//! | 11 | array | count, items |
//! | 12 | map | count, key and value per entry |
//! | 13 | struct | count, per field: name length, name, value |
//! | 14 | unchanged | — (transform output only: the value at this position of the record the transform was given) |
//!
//! A transform's output usually leaves most of a record as it was; [`encode_against`] writes
//! each string or bytes value equal to the one at its place in the input as tag 14, so the
//! unchanged bulk of a record is neither copied out of the guest nor compared by the host,
//! which keeps the value it sent ([`decode_over`]). Structs keep their field names (a names-free
//! struct form, once tag 15, was measured with the bench harness and gave no worker-level gain;
//! tag 15 is now an unknown tag).
//!
//! Decoding trusts nothing: it checks every length against what is left, caps nesting at
//! [`MAX_DEPTH`] and never allocates more than the input could hold.

use sluice_sdk::{Struct, Value};

mod compare;
pub(crate) use compare::same_bytes;

/// The deepest nesting decoded (a plugin's output is untrusted input).
pub const MAX_DEPTH: usize = 128;

/// The tag of a value that is the one at the same position of the transform's input.
pub const UNCHANGED: u8 = 14;

fn len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

/// Appends the binary form of `v` to `out`, with [`UNCHANGED`] for each string or bytes value
/// equal to the one at the same position of `before` (the binary form of the value `v` was
/// made from).
/// `before` is trusted to be well formed; where it is not, or where the shapes part, `v` is
/// written in full.
pub fn encode_against(v: &Value, before: Option<&[u8]>, out: &mut Vec<u8>) {
    let Some(before) = before else { return encode(v, out) };
    let mut r = Reader::trusting(before);
    let Ok(tag) = r.take(1).map(|t| t[0]) else { return encode(v, out) };
    match (v, tag) {
        (Value::String(s), 9) if r.blob().is_some_and(|b| same_bytes(b, s.as_bytes())) => out.push(UNCHANGED),
        (Value::Bytes(b), 10) if r.blob().is_some_and(|x| same_bytes(x, b)) => out.push(UNCHANGED),
        (Value::Array(items), 11) => {
            let n = r.len().unwrap_or(0);
            out.push(11);
            len(out, items.len());
            for (i, item) in items.iter().enumerate() {
                encode_against(item, if i < n { r.next_value() } else { None }, out);
            }
        }
        (Value::Map(entries), 12) => {
            let n = r.len().unwrap_or(0);
            out.push(12);
            len(out, entries.len());
            for (i, (k, v)) in entries.iter().enumerate() {
                let (bk, bv) = if i < n { (r.next_value(), r.next_value()) } else { (None, None) };
                encode_against(k, bk, out);
                encode_against(v, bv, out);
            }
        }
        (Value::Struct(s), 13) => {
            let n = r.len().unwrap_or(0);
            out.push(13);
            len(out, s.fields.len());
            for (i, (name, v)) in s.fields.iter().enumerate() {
                let b = if i < n { r.len().ok().and_then(|l| r.take(l).ok()).and_then(|_| r.next_value()) } else { None };
                len(out, name.len());
                out.extend_from_slice(name.as_bytes());
                encode_against(v, b, out);
            }
        }
        _ => encode(v, out),
    }
}

/// Appends the binary form of `v` to `out`.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0),
        Value::Int8(x) => {
            out.push(1);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Int16(x) => {
            out.push(2);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Int32(x) => {
            out.push(3);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Int64(x) => {
            out.push(4);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Float32(x) => {
            out.push(5);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Float64(x) => {
            out.push(6);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Boolean(b) => out.push(if *b { 8 } else { 7 }),
        Value::String(s) => {
            out.push(9);
            len(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(10);
            len(out, b.len());
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            out.push(11);
            len(out, items.len());
            for item in items {
                encode(item, out);
            }
        }
        Value::Map(entries) => {
            out.push(12);
            len(out, entries.len());
            for (k, v) in entries {
                encode(k, out);
                encode(v, out);
            }
        }
        Value::Struct(s) => {
            out.push(13);
            len(out, s.fields.len());
            for (name, v) in &s.fields {
                len(out, name.len());
                out.extend_from_slice(name.as_bytes());
                encode(v, out);
            }
        }
    }
}

/// The binary form of `v`.
pub fn to_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(v));
    encode(v, &mut out);
    out
}

/// The exact length of the binary form of `v` (so buffers are allocated once).
pub fn encoded_len(v: &Value) -> usize {
    1 + match v {
        Value::Null | Value::Boolean(_) => 0,
        Value::Int8(_) => 1,
        Value::Int16(_) => 2,
        Value::Int32(_) | Value::Float32(_) => 4,
        Value::Int64(_) | Value::Float64(_) => 8,
        Value::String(s) => 4 + s.len(),
        Value::Bytes(b) => 4 + b.len(),
        Value::Array(items) => 4 + items.iter().map(encoded_len).sum::<usize>(),
        Value::Map(entries) => 4 + entries.iter().map(|(k, v)| encoded_len(k) + encoded_len(v)).sum::<usize>(),
        Value::Struct(s) => 4 + s.fields.iter().map(|(n, v)| 4 + n.len() + encoded_len(v)).sum::<usize>(),
    }
}

/// Decodes `bytes` (a transform's output, written with [`encode_against`]) over `slot` (the
/// value the transform was given): [`UNCHANGED`] parts stay as they are, and the strings,
/// bytes and vectors of what changed are reused where the shapes match, so that a mostly
/// unchanged value costs no allocation. On error `slot` holds a partly decoded value.
pub fn decode_over(bytes: &[u8], slot: &mut Value) -> Result<(), String> {
    let mut r = Reader::new(bytes);
    r.value_over(0, slot)?;
    if r.pos != bytes.len() {
        return Err(format!("{} bytes after the value", bytes.len() - r.pos));
    }
    Ok(())
}

/// The value `bytes` holds; every byte must belong to it.
pub fn from_bytes(bytes: &[u8]) -> Result<Value, String> {
    let mut r = Reader::new(bytes);
    let v = r.value(0)?;
    if r.pos != bytes.len() {
        return Err(format!("{} bytes after the value", bytes.len() - r.pos));
    }
    Ok(v)
}

/// The content length of a value whose tag alone fixes it (null, numbers, booleans,
/// unchanged); `None` for the others.
#[inline(always)]
fn fixed_len(tag: u8) -> Option<usize> {
    match tag {
        0 | 7 | 8 | UNCHANGED => Some(0),
        1 => Some(1),
        2 => Some(2),
        3 | 5 => Some(4),
        4 | 6 => Some(8),
        _ => None,
    }
}

#[cold]
#[inline(never)]
fn truncated(at: usize) -> String {
    format!("truncated at byte {at}")
}

#[cold]
#[inline(never)]
fn count_exceeds(n: usize, at: usize) -> String {
    format!("count {n} at byte {at} exceeds the input")
}

/// A bounds-checked cursor over encoded bytes (shared with [`crate::record_batch`]).
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
    /// Strings need no UTF-8 check: the bytes were written from Rust strings by a party the
    /// reader trusts (a guest reading its host's batch). Lengths are still checked.
    trusted: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0, trusted: false }
    }

    pub(crate) fn trusting(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0, trusted: true }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    // The readers below run per field on both sides of the boundary: small enough to inline
    // (their error text is built out of line), which in a WASM guest saves a call per field.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.buf.len() - self.pos {
            return Err(truncated(self.pos));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    #[inline]
    pub(crate) fn len(&mut self) -> Result<usize, String> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    /// A count of items each taking at least `min` bytes, checked against what is left.
    #[inline]
    pub(crate) fn count(&mut self, min: usize) -> Result<usize, String> {
        let n = self.len()?;
        if n.saturating_mul(min) > self.buf.len() - self.pos {
            return Err(count_exceeds(n, self.pos));
        }
        Ok(n)
    }

    /// The content of a string or bytes value whose tag was read; `None` if truncated.
    #[inline]
    fn blob(&mut self) -> Option<&'a [u8]> {
        let n = self.len().ok()?;
        self.take(n).ok()
    }

    /// The binary form of the next value, skipped over; `None` if malformed. A number, string
    /// or bytes value (most of a record) is measured here, without a call.
    #[inline]
    fn next_value(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let tag = *self.buf.get(start)?;
        let len = match (fixed_len(tag), tag) {
            (Some(n), _) => 1 + n,
            (None, 9 | 10) => {
                let n = self.buf.get(start + 1..start + 5)?;
                5 + u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize
            }
            _ => {
                self.skip(0).ok()?;
                return Some(&self.buf[start..self.pos]);
            }
        };
        let value = self.buf.get(start..start.checked_add(len)?)?;
        self.pos = start + len;
        Some(value)
    }

    /// Moves past one value without decoding it.
    fn skip(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        let at = self.pos;
        let tag = self.take(1)?[0];
        let n = match (fixed_len(tag), tag) {
            (Some(n), _) => n,
            (None, 9 | 10) => self.len()?,
            (None, 11) => {
                for _ in 0..self.count(1)? {
                    self.skip(depth + 1)?;
                }
                0
            }
            (None, 12) => {
                for _ in 0..self.count(2)? {
                    self.skip(depth + 1)?;
                    self.skip(depth + 1)?;
                }
                0
            }
            (None, 13) => {
                for _ in 0..self.count(5)? {
                    let name = self.len()?;
                    self.take(name)?;
                    self.skip(depth + 1)?;
                }
                0
            }
            (None, other) => return Err(format!("unknown value tag {other} at byte {at}")),
        };
        self.take(n).map(|_| ())
    }

    pub(crate) fn string(&mut self) -> Result<String, String> {
        self.str().map(str::to_string)
    }

    /// A string, borrowed from the input.
    #[inline]
    pub(crate) fn str(&mut self) -> Result<&'a str, String> {
        let n = self.len()?;
        let at = self.pos;
        let bytes = self.take(n)?;
        self.text(bytes, at)
    }

    /// `bytes` (read from byte `at`) as text: checked unless trusted.
    #[inline]
    pub(crate) fn text(&self, bytes: &'a [u8], at: usize) -> Result<&'a str, String> {
        if self.trusted {
            // SAFETY: a trusted writer wrote these bytes from a `str` (see `trusted`).
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|e| format!("string at byte {at} is not UTF-8: {e}"))
    }

    /// A string into `slot`, reusing its buffer.
    #[inline]
    pub(crate) fn string_into(&mut self, slot: &mut String) -> Result<(), String> {
        let n = self.len()?;
        let at = self.pos;
        let bytes = self.take(n)?;
        // A field name or topic is usually the one decoded into `slot` before: then neither
        // copied nor checked again.
        if same_bytes(slot.as_bytes(), bytes) {
            return Ok(());
        }
        let text = self.text(bytes, at)?;
        slot.clear();
        slot.push_str(text);
        Ok(())
    }

    /// The next value into `slot`, reusing its strings, bytes and vectors where the shapes
    /// match: a guest decoding record after record of one shape into the record before
    /// allocates almost nothing. On error `slot` holds a partly decoded value.
    pub(crate) fn value_into(&mut self, depth: usize, slot: &mut Value) -> Result<(), String> {
        self.fill(depth, slot, false)
    }

    /// As [`Reader::value_into`], for a transform's output over the value it was given:
    /// [`UNCHANGED`] keeps what `slot` holds at that position.
    pub(crate) fn value_over(&mut self, depth: usize, slot: &mut Value) -> Result<(), String> {
        self.fill(depth, slot, true)
    }

    fn fill(&mut self, depth: usize, slot: &mut Value, over: bool) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        let at = self.pos;
        match (self.take(1)?[0], slot) {
            (UNCHANGED, _) if over => {}
            // Numbers over numbers of the same type: written in place.
            (3, Value::Int32(x)) => *x = i32::from_le_bytes(self.array()?),
            (4, Value::Int64(x)) => *x = i64::from_le_bytes(self.array()?),
            (6, Value::Float64(x)) => *x = f64::from_le_bytes(self.array()?),
            (9, Value::String(s)) => self.string_into(s)?,
            (10, Value::Bytes(b)) => {
                let n = self.len()?;
                let bytes = self.take(n)?;
                if !same_bytes(b, bytes) {
                    b.clear();
                    b.extend_from_slice(bytes);
                }
            }
            (11, Value::Array(items)) => {
                let n = self.count(1)?;
                items.truncate(n);
                for i in 0..n {
                    match items.get_mut(i) {
                        Some(item) => self.fill(depth + 1, item, over)?,
                        None => items.push(self.value(depth + 1)?),
                    }
                }
            }
            (12, Value::Map(entries)) => {
                let n = self.count(2)?;
                entries.truncate(n);
                for i in 0..n {
                    match entries.get_mut(i) {
                        Some((k, v)) => {
                            self.fill(depth + 1, k, over)?;
                            self.fill(depth + 1, v, over)?;
                        }
                        None => {
                            let k = self.value(depth + 1)?;
                            entries.push((k, self.value(depth + 1)?));
                        }
                    }
                }
            }
            (13, Value::Struct(st)) => {
                let n = self.count(5)?;
                st.fields.truncate(n);
                for i in 0..n {
                    match st.fields.get_mut(i) {
                        Some((name, value)) => {
                            self.string_into(name)?;
                            self.fill(depth + 1, value, over)?;
                        }
                        None => {
                            let name = self.string()?;
                            st.fields.push((name, self.value(depth + 1)?));
                        }
                    }
                }
            }
            (_, slot) => {
                self.pos = at;
                *slot = self.value(depth)?;
            }
        }
        Ok(())
    }

    /// A value (a marker of [`UNCHANGED`] in it is an error: there is nothing to keep).
    pub(crate) fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        let at = self.pos;
        let tag = self.take(1)?[0];
        Ok(match tag {
            0 => Value::Null,
            1 => Value::Int8(i8::from_le_bytes(self.array()?)),
            2 => Value::Int16(i16::from_le_bytes(self.array()?)),
            3 => Value::Int32(i32::from_le_bytes(self.array()?)),
            4 => Value::Int64(i64::from_le_bytes(self.array()?)),
            5 => Value::Float32(f32::from_le_bytes(self.array()?)),
            6 => Value::Float64(f64::from_le_bytes(self.array()?)),
            7 => Value::Boolean(false),
            8 => Value::Boolean(true),
            9 => Value::String(self.string()?),
            10 => {
                let n = self.len()?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            11 => {
                let n = self.count(1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            12 => {
                let n = self.count(2)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.value(depth + 1)?;
                    entries.push((k, self.value(depth + 1)?));
                }
                Value::Map(entries)
            }
            13 => {
                let n = self.count(5)?;
                let mut fields = Vec::with_capacity(n);
                for _ in 0..n {
                    let name = self.string()?;
                    fields.push((name, self.value(depth + 1)?));
                }
                Value::Struct(Struct { fields })
            }
            UNCHANGED => return Err(format!("value at byte {at} is marked unchanged, but the input has no value at its position")),
            other => return Err(format!("unknown value tag {other} at byte {at}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_value_round_trips() {
        let v = Value::Struct(Struct {
            fields: vec![
                ("null".into(), Value::Null),
                ("i8".into(), Value::Int8(-8)),
                ("i16".into(), Value::Int16(-16)),
                ("i32".into(), Value::Int32(32)),
                ("i64".into(), Value::Int64(i64::MIN)),
                ("f32".into(), Value::Float32(1.5)),
                ("f64".into(), Value::Float64(-2.25)),
                ("yes".into(), Value::Boolean(true)),
                ("no".into(), Value::Boolean(false)),
                ("s".into(), Value::String("héllo".into())),
                ("b".into(), Value::Bytes(vec![0, 255])),
                ("a".into(), Value::Array(vec![Value::Int32(1), Value::Null])),
                ("m".into(), Value::Map(vec![(Value::Int32(1), Value::String("one".into()))])),
            ],
        });
        assert_eq!(to_bytes(&v).len(), encoded_len(&v));
        assert_eq!(from_bytes(&to_bytes(&v)), Ok(v));
    }

    #[test]
    fn decoding_over_an_earlier_value_gives_the_new_value() {
        let original =
            Value::Struct(Struct::new().put("id", Value::Int64(1)).put("ssn", Value::String("123".into())).put("notes", Value::String("long".into())));
        let mut changed = original.clone();
        if let Value::Struct(s) = &mut changed {
            s.fields[1].1 = Value::String("****".into());
        }
        let mut slot = original.clone();
        decode_over(&to_bytes(&changed), &mut slot).unwrap();
        assert_eq!(slot, changed);
        // Over a value of another shape, and over a longer one.
        let mut other = Value::Int32(3);
        decode_over(&to_bytes(&changed), &mut other).unwrap();
        assert_eq!(other, changed);
        let mut longer = original.clone();
        if let Value::Struct(s) = &mut longer {
            s.fields.push(("extra".into(), Value::Map(vec![(Value::Int8(1), Value::Null)])));
        }
        decode_over(&to_bytes(&changed), &mut longer).unwrap();
        assert_eq!(longer, changed);
    }

    #[test]
    fn output_encoded_against_its_input_marks_what_is_unchanged_and_decodes_like_it() {
        let notes = "n".repeat(500);
        let original = Value::Struct(
            Struct::new()
                .put("id", Value::Int64(1))
                .put("ssn", Value::String("123-45-6789".into()))
                .put("notes", Value::String(notes.clone()))
                .put("tags", Value::Array(vec![Value::String("a".into()), Value::Bytes(vec![1, 2])]))
                .put("attrs", Value::Map(vec![(Value::String("k".into()), Value::String("v".into()))])),
        );
        let before = to_bytes(&original);
        let mut changed = original.clone();
        if let Value::Struct(s) = &mut changed {
            s.fields[1].1 = Value::String("****".into());
            s.fields[3].1 = Value::Array(vec![Value::String("a".into()), Value::Bytes(vec![9]), Value::String("new".into())]);
            s.fields.push(("added".into(), Value::String(notes.clone())));
        }
        let mut out = Vec::new();
        encode_against(&changed, Some(&before), &mut out);
        assert!(out.len() < encoded_len(&changed) - notes.len(), "unchanged notes were copied: {} bytes", out.len());
        let mut slot = original.clone();
        decode_over(&out, &mut slot).unwrap();
        assert_eq!(slot, changed);
        // Without the input, a marker is an error; against garbage, everything is written.
        assert!(from_bytes(&out).unwrap_err().contains("marked unchanged"));
        let mut full = Vec::new();
        encode_against(&changed, Some(&[13, 200, 0]), &mut full);
        assert_eq!(full, to_bytes(&changed));
        // A marker where the host's value has another shape has nothing to take.
        assert!(decode_over(&out, &mut Value::Struct(Struct::new())).unwrap_err().contains("marked unchanged"));
    }

    #[test]
    fn a_struct_over_its_input_keeps_names_and_marks_unchanged_values() {
        let original = Value::Struct(
            Struct::new()
                .put("id", Value::Int64(1))
                .put("ssn", Value::String("123".into()))
                .put("inner", Value::Struct(Struct::new().put("a", Value::String("kept".into())))),
        );
        let before = to_bytes(&original);
        for changed in [
            Value::Struct(
                Struct::new()
                    .put("id", Value::Int64(1))
                    .put("ssn", Value::String("****".into()))
                    .put("inner", Value::Struct(Struct::new().put("a", Value::String("kept".into())))),
            ),
            Value::Struct(
                Struct::new()
                    .put("id", Value::Int64(1))
                    .put("SSN", Value::String("123".into()))
                    .put("inner", Value::Struct(Struct::new().put("a", Value::String("kept".into())))),
            ),
            Value::Struct(Struct::new().put("id", Value::Int64(1))),
        ] {
            let mut out = Vec::new();
            encode_against(&changed, Some(&before), &mut out);
            assert_eq!(out[0], 13);
            assert!(!out.windows(4).any(|w| w == b"kept"), "an unchanged string is not copied: {out:?}");
            let mut slot = original.clone();
            decode_over(&out, &mut slot).unwrap();
            assert_eq!(slot, changed);
        }
        // Tag 15 (a names-free struct form of WIT 0.4.0) is an unknown tag now.
        assert!(from_bytes(&[15, 0, 0, 0, 0]).unwrap_err().contains("unknown value tag 15"));
    }

    #[test]
    fn decoding_into_an_earlier_value_gives_the_same_value() {
        let values = [
            Value::Struct(Struct::new().put("id", Value::Int64(1)).put("s", Value::String("long text".into())).put("b", Value::Bytes(vec![1, 2, 3]))),
            Value::Struct(Struct::new().put("id", Value::Int64(2)).put("s", Value::String("x".into()))),
            Value::Struct(
                Struct::new()
                    .put("a", Value::Array(vec![Value::Int8(1), Value::String("y".into())]))
                    .put("m", Value::Map(vec![(Value::Int8(1), Value::Null)]))
                    .put("z", Value::Null)
                    .put("w", Value::Boolean(true)),
            ),
            Value::Array(vec![Value::String("q".into())]),
            Value::String("plain".into()),
        ];
        let mut slot = Value::Null;
        for v in values.iter().chain(values.iter().rev()) {
            let bytes = to_bytes(v);
            let mut r = Reader::new(&bytes);
            r.value_into(0, &mut slot).unwrap();
            assert_eq!((&slot, r.remaining()), (v, 0));
        }
        assert!(Reader::new(&[9, 2, 0, 0, 0, 0xff, 0xfe]).value_into(0, &mut Value::String(String::new())).unwrap_err().contains("not UTF-8"));
        assert!(Reader::new(&[14]).value_into(0, &mut Value::Null).unwrap_err().contains("marked unchanged"));
    }

    #[test]
    fn skipping_walks_over_exactly_one_value() {
        let v = Value::Array(vec![Value::Struct(Struct::new().put("a", Value::Map(vec![(Value::Int8(1), Value::Float64(2.0))]))), Value::Bytes(vec![3; 7])]);
        let mut bytes = to_bytes(&v);
        bytes.push(0);
        let mut r = Reader::new(&bytes);
        r.skip(0).unwrap();
        assert_eq!(r.remaining(), 1);
        assert!(Reader::new(&bytes[..bytes.len() - 3]).skip(0).is_err());

        // `next_value` gives each value's bytes, measured inline or by skipping.
        let values = [
            Value::Null,
            Value::Boolean(true),
            Value::Int8(1),
            Value::Int16(2),
            Value::Int32(3),
            Value::Float32(4.0),
            Value::Int64(5),
            Value::Float64(6.0),
            Value::String("seven".into()),
            Value::Bytes(vec![8; 80]),
            v,
        ];
        let mut all = Vec::new();
        for v in &values {
            encode(v, &mut all);
        }
        let mut r = Reader::trusting(&all);
        for v in &values {
            assert_eq!(r.next_value(), Some(&to_bytes(v)[..]), "{v:?}");
        }
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.next_value(), None);
        for cut in [1, 3, 6, 9] {
            let bytes = to_bytes(&Value::String("seven".into()));
            assert_eq!(Reader::trusting(&bytes[..cut]).next_value(), None, "cut at {cut}");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(from_bytes(&[]).is_err());
        assert!(from_bytes(&[99]).unwrap_err().contains("unknown value tag 99"));
        assert!(from_bytes(&[9, 10, 0, 0, 0, b'a']).unwrap_err().contains("truncated"));
        assert!(from_bytes(&[11, 255, 255, 255, 255]).unwrap_err().contains("exceeds the input"));
        assert!(from_bytes(&[9, 2, 0, 0, 0, 0xff, 0xfe]).unwrap_err().contains("not UTF-8"));
        assert!(from_bytes(&[0, 0]).unwrap_err().contains("after the value"));
        let deep: Vec<u8> = std::iter::repeat_n([11u8, 1, 0, 0, 0], 200).flatten().chain([0]).collect();
        assert!(from_bytes(&deep).unwrap_err().contains("nested deeper"));
    }
}
