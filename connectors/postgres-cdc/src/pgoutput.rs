//! A decoder of pgoutput's logical replication messages, protocol version 1
//! (PostgreSQL's "Logical Replication Message Formats"): Begin, Commit, Origin, Relation, Type,
//! Insert, Update, Delete, Truncate and Message. Column values arrive in text format; `'u'`
//! marks an unchanged TOASTed value the server did not send.
//!
//! Pure and allocation-light: one `decode` per message, borrowing nothing after it returns.

/// Errors in a message: always a protocol mismatch, never recoverable by retrying.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("pgoutput message truncated at byte {0}")]
    Truncated(usize),
    #[error("unknown pgoutput message type {0:?}")]
    UnknownMessage(char),
    #[error("unknown pgoutput tuple marker {0:?}")]
    UnknownTuple(char),
    #[error("pgoutput string is not UTF-8")]
    Utf8,
}

/// One column of a tuple.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    Null,
    /// An unchanged TOASTed value: the server did not send it.
    Unchanged,
    Text(String),
}

/// A column as described by a Relation message.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationColumn {
    /// Part of the replica identity key.
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
}

/// A Relation message: the table's shape at the time of the following changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub id: u32,
    pub namespace: String,
    pub name: String,
    /// `d` default, `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    pub columns: Vec<RelationColumn>,
}

/// A decoded pgoutput message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `final_lsn` is the commit's LSN; `timestamp` µs since 2000-01-01.
    Begin {
        final_lsn: u64,
        timestamp: i64,
        xid: u32,
    },
    Commit {
        commit_lsn: u64,
        end_lsn: u64,
        timestamp: i64,
    },
    Origin {
        lsn: u64,
        name: String,
    },
    Relation(Relation),
    Type {
        oid: u32,
        namespace: String,
        name: String,
    },
    Insert {
        relation: u32,
        new: Vec<Datum>,
    },
    /// `old` is the key ('K') or the whole old row ('O', with REPLICA IDENTITY FULL), when sent.
    Update {
        relation: u32,
        old: Option<Vec<Datum>>,
        new: Vec<Datum>,
    },
    Delete {
        relation: u32,
        old: Vec<Datum>,
    },
    Truncate {
        relations: Vec<u32>,
        cascade: bool,
        restart_identity: bool,
    },
    Message {
        transactional: bool,
        lsn: u64,
        prefix: String,
        content: Vec<u8>,
    },
}

/// Microseconds between 1970-01-01 and 2000-01-01 (Postgres' epoch).
pub const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(DecodeError::Truncated(self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn cstring(&mut self) -> Result<String, DecodeError> {
        let rest = &self.buf[self.pos..];
        let nul = rest.iter().position(|&b| b == 0).ok_or(DecodeError::Truncated(self.buf.len()))?;
        let s = std::str::from_utf8(&rest[..nul]).map_err(|_| DecodeError::Utf8)?.to_string();
        self.pos += nul + 1;
        Ok(s)
    }
    fn tuple(&mut self) -> Result<Vec<Datum>, DecodeError> {
        let n = self.u16()? as usize;
        let mut cols = Vec::with_capacity(n);
        for _ in 0..n {
            cols.push(match self.u8()? {
                b'n' => Datum::Null,
                b'u' => Datum::Unchanged,
                b't' | b'b' => {
                    let len = self.u32()? as usize;
                    let bytes = self.take(len)?;
                    Datum::Text(std::str::from_utf8(bytes).map_err(|_| DecodeError::Utf8)?.to_string())
                }
                other => return Err(DecodeError::UnknownTuple(other as char)),
            });
        }
        Ok(cols)
    }
}

/// Decodes one message (the `data` of one row of `pg_logical_slot_peek_binary_changes`).
pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
    let mut r = Reader { buf, pos: 0 };
    let tag = r.u8()?;
    Ok(match tag {
        b'B' => Message::Begin { final_lsn: r.u64()?, timestamp: r.u64()? as i64, xid: r.u32()? },
        b'C' => {
            let _flags = r.u8()?;
            Message::Commit { commit_lsn: r.u64()?, end_lsn: r.u64()?, timestamp: r.u64()? as i64 }
        }
        b'O' => Message::Origin { lsn: r.u64()?, name: r.cstring()? },
        b'R' => {
            let id = r.u32()?;
            let namespace = r.cstring()?;
            let name = r.cstring()?;
            let replica_identity = r.u8()?;
            let n = r.u16()? as usize;
            let mut columns = Vec::with_capacity(n);
            for _ in 0..n {
                let flags = r.u8()?;
                columns.push(RelationColumn { key: flags & 1 == 1, name: r.cstring()?, type_oid: r.u32()?, type_modifier: r.u32()? as i32 });
            }
            Message::Relation(Relation { id, namespace, name, replica_identity, columns })
        }
        b'Y' => Message::Type { oid: r.u32()?, namespace: r.cstring()?, name: r.cstring()? },
        b'I' => {
            let relation = r.u32()?;
            let _n = r.u8()?;
            Message::Insert { relation, new: r.tuple()? }
        }
        b'U' => {
            let relation = r.u32()?;
            let mut marker = r.u8()?;
            let mut old = None;
            if marker == b'K' || marker == b'O' {
                old = Some(r.tuple()?);
                marker = r.u8()?;
            }
            if marker != b'N' {
                return Err(DecodeError::UnknownTuple(marker as char));
            }
            Message::Update { relation, old, new: r.tuple()? }
        }
        b'D' => {
            let relation = r.u32()?;
            let _marker = r.u8()?;
            Message::Delete { relation, old: r.tuple()? }
        }
        b'T' => {
            let n = r.u32()? as usize;
            let options = r.u8()?;
            let relations = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
            Message::Truncate { relations, cascade: options & 1 != 0, restart_identity: options & 2 != 0 }
        }
        b'M' => {
            let flags = r.u8()?;
            let lsn = r.u64()?;
            let prefix = r.cstring()?;
            let len = r.u32()? as usize;
            Message::Message { transactional: flags & 1 != 0, lsn, prefix, content: r.take(len)?.to_vec() }
        }
        other => return Err(DecodeError::UnknownMessage(other as char)),
    })
}

/// Formats an LSN as Postgres prints it (`16/B374D848`).
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// Parses Postgres' LSN text form.
pub fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(cols: &[Option<&str>]) -> Vec<u8> {
        let mut b = (cols.len() as u16).to_be_bytes().to_vec();
        for c in cols {
            match c {
                None => b.push(b'n'),
                Some("\u{0}u") => b.push(b'u'),
                Some(s) => {
                    b.push(b't');
                    b.extend((s.len() as u32).to_be_bytes());
                    b.extend(s.as_bytes());
                }
            }
        }
        b
    }

    #[test]
    fn decodes_every_message_kind() {
        let mut begin = vec![b'B'];
        begin.extend(0x1_0000_0010u64.to_be_bytes());
        begin.extend(5i64.to_be_bytes());
        begin.extend(777u32.to_be_bytes());
        assert_eq!(decode(&begin).unwrap(), Message::Begin { final_lsn: 0x1_0000_0010, timestamp: 5, xid: 777 });

        let mut commit = vec![b'C', 0];
        commit.extend(10u64.to_be_bytes());
        commit.extend(20u64.to_be_bytes());
        commit.extend(30i64.to_be_bytes());
        assert_eq!(decode(&commit).unwrap(), Message::Commit { commit_lsn: 10, end_lsn: 20, timestamp: 30 });

        let mut rel = vec![b'R'];
        rel.extend(42u32.to_be_bytes());
        rel.extend(b"public\0orders\0");
        rel.push(b'f');
        rel.extend(2u16.to_be_bytes());
        rel.push(1);
        rel.extend(b"id\0");
        rel.extend(23u32.to_be_bytes());
        rel.extend((-1i32).to_be_bytes());
        rel.push(0);
        rel.extend(b"amount\0");
        rel.extend(1700u32.to_be_bytes());
        rel.extend(((10 << 16) + 2 + 4i32).to_be_bytes());
        let Message::Relation(r) = decode(&rel).unwrap() else { panic!() };
        assert_eq!((r.id, r.namespace.as_str(), r.name.as_str(), r.replica_identity), (42, "public", "orders", b'f'));
        assert_eq!(r.columns[0], RelationColumn { key: true, name: "id".into(), type_oid: 23, type_modifier: -1 });
        assert_eq!(r.columns[1].type_modifier, (10 << 16) + 6);

        let mut ins = vec![b'I'];
        ins.extend(42u32.to_be_bytes());
        ins.push(b'N');
        ins.extend(tuple(&[Some("1"), None]));
        assert_eq!(decode(&ins).unwrap(), Message::Insert { relation: 42, new: vec![Datum::Text("1".into()), Datum::Null] });

        let mut upd = vec![b'U'];
        upd.extend(42u32.to_be_bytes());
        upd.push(b'O');
        upd.extend(tuple(&[Some("1"), Some("big")]));
        upd.push(b'N');
        upd.extend(tuple(&[Some("1"), Some("\u{0}u")]));
        assert_eq!(
            decode(&upd).unwrap(),
            Message::Update {
                relation: 42,
                old: Some(vec![Datum::Text("1".into()), Datum::Text("big".into())]),
                new: vec![Datum::Text("1".into()), Datum::Unchanged]
            }
        );

        let mut upd_plain = vec![b'U'];
        upd_plain.extend(42u32.to_be_bytes());
        upd_plain.push(b'N');
        upd_plain.extend(tuple(&[Some("2")]));
        assert!(matches!(decode(&upd_plain).unwrap(), Message::Update { old: None, .. }));

        let mut del = vec![b'D'];
        del.extend(42u32.to_be_bytes());
        del.push(b'K');
        del.extend(tuple(&[Some("1"), None]));
        assert!(matches!(decode(&del).unwrap(), Message::Delete { relation: 42, .. }));

        let mut tr = vec![b'T'];
        tr.extend(2u32.to_be_bytes());
        tr.push(3);
        tr.extend(42u32.to_be_bytes());
        tr.extend(43u32.to_be_bytes());
        assert_eq!(decode(&tr).unwrap(), Message::Truncate { relations: vec![42, 43], cascade: true, restart_identity: true });

        let mut m = vec![b'M', 1];
        m.extend(99u64.to_be_bytes());
        m.extend(b"app\0");
        m.extend(2u32.to_be_bytes());
        m.extend(b"hi");
        assert_eq!(decode(&m).unwrap(), Message::Message { transactional: true, lsn: 99, prefix: "app".into(), content: b"hi".to_vec() });
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(decode(b"Z"), Err(DecodeError::UnknownMessage('Z'))));
        assert!(matches!(decode(b"B\0\0"), Err(DecodeError::Truncated(_))));
        assert!(decode(b"").is_err());
    }

    #[test]
    fn lsn_text_round_trips() {
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("nope"), None);
    }
}
