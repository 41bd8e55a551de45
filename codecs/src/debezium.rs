//! The Debezium change event envelope: a struct (or a schemaless map) with `op` (`c` create,
//! `r` snapshot read, `u` update, `d` delete, `t` truncate), `before` and `after` (the row
//! state on either side of the change), `source` (where it happened, e.g. Postgres' `lsn`) and
//! `ts_ms`. Records that are not envelopes (heartbeats, schema changes) are told apart here.
//!
//! Two callers ask "is this an envelope?" with different strictness, and each keeps its answer:
//! ClickHouse's `debezium.unwrap` ([`is_change_event`]: a string `op` and a `before` or
//! `after` field) and `ExtractNewRecordState` ([`has_envelope_fields`]: an `op` field, or a
//! struct with an `after` field, as the transform has always recognised them).

use sluice_sdk::{Schema, Value};

/// The envelope's operation field.
pub const OP: &str = "op";
/// The row state before the change (deletes and updates).
pub const BEFORE: &str = "before";
/// The row state after the change (creates, reads, updates).
pub const AFTER: &str = "after";
/// Where the change happened.
pub const SOURCE: &str = "source";

/// A field of a struct or an entry of a schemaless map (string keys), by name; the first
/// one of that name.
pub fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Struct(s) => s.get(name),
        Value::Map(m) => m.iter().find(|(k, _)| k.as_str() == Some(name)).map(|(_, v)| v),
        _ => None,
    }
}

/// Whether a value is a change event: a string `op` and an `after` or a `before` field (one
/// pass over the fields: this is asked of every record).
pub fn is_change_event(v: &Value) -> bool {
    let (mut op, mut state) = (false, false);
    let mut see = |name: &str, value: &Value| match name {
        OP => op = value.as_str().is_some(),
        AFTER | BEFORE => state = true,
        _ => {}
    };
    match v {
        Value::Struct(s) => s.fields.iter().for_each(|(n, v)| see(n, v)),
        Value::Map(m) => m.iter().for_each(|(k, v)| {
            if let Some(k) = k.as_str() {
                see(k, v)
            }
        }),
        _ => {}
    }
    op && state
}

/// Whether a value has the fields `ExtractNewRecordState` takes for an envelope: an `op`
/// field (of any value), or a struct with an `after` field.
pub fn has_envelope_fields(v: &Value) -> bool {
    field(v, OP).is_some() || matches!(v, Value::Struct(s) if s.get(AFTER).is_some())
}

/// The state a change event's `op` writes: `c`/`r`/`u` the `after` state, `d` the `before`
/// state (deleted); other operations (`t` truncate, unknown ones) write nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpState {
    /// [`AFTER`] or [`BEFORE`].
    pub part: &'static str,
    /// Whether the change deleted the row.
    pub deleted: bool,
}

/// The state written by the change event `v`'s `op` (the op's text too, for messages).
pub fn op_state(v: &Value) -> (&str, Option<OpState>) {
    let op = field(v, OP).and_then(Value::as_str).unwrap_or_default();
    let state = match op {
        "c" | "r" | "u" => Some(OpState { part: AFTER, deleted: false }),
        "d" => Some(OpState { part: BEFORE, deleted: true }),
        _ => None,
    };
    (op, state)
}

/// The schema of the envelope field `part` (`before`/`after`) of an envelope schema.
pub fn state_schema<'a>(envelope: Option<&'a Schema>, part: &str) -> Option<&'a Schema> {
    envelope.and_then(|s| s.field_named(part)).map(|f| &*f.schema)
}

/// `source.lsn`: the Postgres log position of the change (it grows with every change).
pub fn source_lsn(v: &Value) -> Option<i64> {
    field(v, SOURCE).and_then(|s| field(s, "lsn")).and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::Struct;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(entries.iter().map(|(k, v)| (Value::String((*k).to_string()), v.clone())).collect())
    }

    #[test]
    fn envelopes_are_recognised_as_each_caller_does() {
        let struct_after = Value::Struct(Struct::new().put("after", 1i64));
        // (value, is_change_event, has_envelope_fields)
        let cases = [
            (map(&[("after", Value::Null), ("op", "c".into())]), true, true),
            (map(&[("op", "c".into())]), false, true),
            (map(&[("op", Value::Int32(1)), ("before", Value::Null)]), false, true),
            (struct_after, false, true),
            (map(&[("after", Value::Null)]), false, false),
            (map(&[("ts_ms", Value::Int64(1))]), false, false),
            (Value::Struct(Struct::new().put("before", Value::Null).put("op", "d")), true, true),
            (Value::Int64(3), false, false),
        ];
        for (v, strict, lenient) in cases {
            assert_eq!(is_change_event(&v), strict, "{v:?}");
            assert_eq!(has_envelope_fields(&v), lenient, "{v:?}");
        }
    }

    #[test]
    fn ops_write_their_state() {
        let cases = [
            ("c", Some(OpState { part: AFTER, deleted: false })),
            ("r", Some(OpState { part: AFTER, deleted: false })),
            ("u", Some(OpState { part: AFTER, deleted: false })),
            ("d", Some(OpState { part: BEFORE, deleted: true })),
            ("t", None),
            ("x", None),
        ];
        for (op, want) in cases {
            assert_eq!(op_state(&map(&[("op", op.into())])), (op, want));
        }
        assert_eq!(op_state(&map(&[("op", Value::Int32(1))])), ("", None));
        let ev = Value::Struct(Struct::new().put("source", Value::Struct(Struct::new().put("lsn", 42i64))));
        assert_eq!(source_lsn(&ev), Some(42));
        assert_eq!(source_lsn(&map(&[("source", map(&[("lsn", Value::Int64(7))]))])), Some(7));
        assert_eq!(source_lsn(&map(&[])), None);
    }
}
