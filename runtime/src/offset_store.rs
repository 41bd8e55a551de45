//! Source offsets: an in-memory view ([`OffsetStore`]) over a durable [`OffsetBackingStore`].
//!
//! Keys and values have Kafka Connect's serialized form: key `["CONNECTOR",{PARTITION}]`,
//! value `{OFFSET}` (JSON, no schemas), so offsets can be carried between Sluice and Connect.
//! Standalone mode keeps them in `offset.storage.file.filename` ([`FileOffsetBackingStore`]),
//! replaced atomically on each flush (write a temporary file, fsync, rename, fsync the folder).
//! The file is JSON (`{"format":"sluice-offsets-v1","offsets":[[KEY,VALUE],...]}` with the
//! key and value strings exactly as they would be in Connect's offset topic), not the Java
//! serialization of Connect's own file store.
//!
//! Architecture invariant: connectors never write offsets; they return them on records, and
//! the source executor stores them once the broker acknowledged the records.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde_json::Value as Json;
use sluice_sdk::{ConnectError, ConnectResult, OffsetMap, OffsetStorageReader};

/// A durable store of serialized offsets.
#[async_trait]
pub trait OffsetBackingStore: Send + Sync {
    /// Every stored entry, read at start.
    fn load(&self) -> ConnectResult<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Stores entries (`None` deletes the key); returns once they are durable.
    async fn write(&self, entries: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> ConnectResult<()>;
}

/// A JSON string with object keys sorted, so equal partitions compare equal whatever their
/// key order.
fn canonical(j: &Json) -> String {
    fn sort(j: &Json) -> Json {
        match j {
            Json::Object(o) => Json::Object(o.iter().map(|(k, v)| (k.clone(), sort(v))).collect::<BTreeMap<_, _>>().into_iter().collect()),
            Json::Array(a) => Json::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(j).to_string()
}

/// Connect's offset key for a connector's source partition.
pub fn offset_key(connector: &str, partition: &OffsetMap) -> Vec<u8> {
    Json::Array(vec![Json::from(connector), Json::Object(partition.clone())]).to_string().into_bytes()
}

fn parse_key(key: &[u8]) -> Option<(String, OffsetMap)> {
    match serde_json::from_slice::<Json>(key).ok()? {
        Json::Array(mut parts) if parts.len() == 2 => {
            let partition = match parts.pop()? {
                Json::Object(o) => o,
                _ => return None,
            };
            let connector = parts.pop()?.as_str()?.to_string();
            Some((connector, partition))
        }
        _ => None,
    }
}

type PartitionMap = HashMap<String, (OffsetMap, OffsetMap)>;

/// All committed source offsets of a worker, by connector and partition.
pub struct OffsetStore {
    data: RwLock<HashMap<String, PartitionMap>>,
    backing: Box<dyn OffsetBackingStore>,
}

impl OffsetStore {
    /// Loads every entry of `backing`. Entries that are not Connect offset keys are skipped
    /// with a warning.
    pub fn open(backing: Box<dyn OffsetBackingStore>) -> ConnectResult<OffsetStore> {
        let store = OffsetStore { data: RwLock::new(HashMap::new()), backing };
        for (k, v) in store.backing.load()? {
            store.apply_serialized(&k, Some(&v));
        }
        Ok(store)
    }

    /// Applies one serialized entry (`None` = tombstone) read from the backing store, e.g. a
    /// record of the offset topic another worker wrote.
    pub fn apply_serialized(&self, key: &[u8], value: Option<&[u8]>) {
        let Some((connector, partition)) = parse_key(key) else {
            tracing::warn!(key = %String::from_utf8_lossy(key), "skipping an offset entry that is not in Connect's format");
            return;
        };
        let ck = canonical(&Json::Object(partition.clone()));
        let Ok(mut data) = self.data.write() else { return };
        match value.map(serde_json::from_slice::<Json>) {
            Some(Ok(Json::Object(offset))) => {
                data.entry(connector).or_default().insert(ck, (partition, offset));
            }
            None | Some(Ok(Json::Null)) => {
                if let Some(m) = data.get_mut(&connector) {
                    m.remove(&ck);
                }
            }
            Some(_) => tracing::warn!(key = %String::from_utf8_lossy(key), "skipping an offset value that is not a JSON object"),
        }
    }

    /// The committed offset of one partition of a connector.
    pub fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        let data = self.data.read().ok()?;
        data.get(connector)?.get(&canonical(&Json::Object(partition.clone()))).map(|(_, o)| o.clone())
    }

    /// All (partition, offset) pairs of a connector.
    pub fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.data.read().map(|d| d.get(connector).map(|m| m.values().cloned().collect()).unwrap_or_default()).unwrap_or_default()
    }

    /// Durably stores offsets of a connector, then makes them visible to readers.
    pub async fn put(&self, connector: &str, offsets: Vec<(OffsetMap, OffsetMap)>) -> ConnectResult<()> {
        self.apply(connector, offsets.into_iter().map(|(p, o)| (p, Some(o))).collect()).await
    }

    /// Stores (`Some`) or deletes (`None`, a tombstone) offsets of a connector.
    pub async fn apply(&self, connector: &str, offsets: Vec<(OffsetMap, Option<OffsetMap>)>) -> ConnectResult<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let entries = offsets.iter().map(|(p, o)| (offset_key(connector, p), o.as_ref().map(|o| Json::Object(o.clone()).to_string().into_bytes()))).collect();
        self.backing.write(entries).await?;
        let mut data = self.data.write().map_err(|_| ConnectError::fatal("offset store lock poisoned"))?;
        let map = data.entry(connector.to_string()).or_default();
        for (p, o) in offsets {
            let key = canonical(&Json::Object(p.clone()));
            match o {
                Some(o) => {
                    map.insert(key, (p, o));
                }
                None => {
                    map.remove(&key);
                }
            }
        }
        Ok(())
    }

    /// A reader for one connector's offsets, for its tasks.
    pub fn reader(self: &Arc<Self>, connector: &str) -> Arc<dyn OffsetStorageReader> {
        Arc::new(ConnectorOffsetReader { store: self.clone(), connector: connector.to_string() })
    }
}

struct ConnectorOffsetReader {
    store: Arc<OffsetStore>,
    connector: String,
}

impl OffsetStorageReader for ConnectorOffsetReader {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
        self.store.get(&self.connector, partition)
    }
}

const FILE_FORMAT: &str = "sluice-offsets-v1";

/// Offsets in a local file (standalone mode's `offset.storage.file.filename`).
pub struct FileOffsetBackingStore {
    path: PathBuf,
    entries: tokio::sync::Mutex<BTreeMap<String, String>>,
}

impl FileOffsetBackingStore {
    pub fn new(path: impl Into<PathBuf>) -> FileOffsetBackingStore {
        FileOffsetBackingStore { path: path.into(), entries: tokio::sync::Mutex::new(BTreeMap::new()) }
    }

    fn read_file(&self) -> ConnectResult<BTreeMap<String, String>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(ConnectError::fatal(format!("cannot read offset file {}: {e}", self.path.display()))),
        };
        let bad = |why: String| ConnectError::fatal(format!("offset file {} is not a Sluice offset file: {why}", self.path.display()));
        let j: Json = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if j.get("format").and_then(Json::as_str) != Some(FILE_FORMAT) {
            return Err(bad(format!("expected \"format\": \"{FILE_FORMAT}\"")));
        }
        let mut out = BTreeMap::new();
        for pair in j.get("offsets").and_then(Json::as_array).ok_or_else(|| bad("no \"offsets\" array".into()))? {
            match pair.as_array().map(Vec::as_slice) {
                Some([Json::String(k), Json::String(v)]) => {
                    out.insert(k.clone(), v.clone());
                }
                _ => return Err(bad(format!("bad entry {pair}"))),
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl OffsetBackingStore for FileOffsetBackingStore {
    fn load(&self) -> ConnectResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let entries = self.read_file()?;
        let out = entries.iter().map(|(k, v)| (k.clone().into_bytes(), v.clone().into_bytes())).collect();
        if let Ok(mut guard) = self.entries.try_lock() {
            *guard = entries;
        }
        Ok(out)
    }

    async fn write(&self, changes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> ConnectResult<()> {
        let mut entries = self.entries.lock().await;
        for (k, v) in changes {
            let k = String::from_utf8_lossy(&k).into_owned();
            match v {
                Some(v) => entries.insert(k, String::from_utf8_lossy(&v).into_owned()),
                None => entries.remove(&k),
            };
        }
        let offsets: Vec<Json> = entries.iter().map(|(k, v)| Json::Array(vec![Json::from(k.clone()), Json::from(v.clone())])).collect();
        let body = serde_json::to_vec_pretty(&serde_json::json!({ "format": FILE_FORMAT, "offsets": offsets })).map_err(ConnectError::fatal)?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &body))
            .await
            .map_err(ConnectError::fatal)?
            .map_err(|e| ConnectError::fatal(format!("cannot write offset file: {e}")))
    }
}

/// Replaces `path` with `body` so that a crash leaves either the old or the new file.
pub fn write_atomically(path: &std::path::Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::offset_map;

    #[tokio::test]
    async fn file_store_round_trip_in_connect_format() {
        let path = std::env::temp_dir().join(format!("sluice-offsets-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = OffsetStore::open(Box::new(FileOffsetBackingStore::new(&path))).unwrap();
        let p = offset_map!("filename" => "/tmp/a.txt");
        store.put("src", vec![(p.clone(), offset_map!("position" => 42))]).await.unwrap();
        store.put("other", vec![(offset_map!("task" => 0, "tasks" => 1), offset_map!("next" => 7))]).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""[\"src\",{\"filename\":\"/tmp/a.txt\"}]""#), "{text}");
        assert!(text.contains(r#""{\"position\":42}""#), "{text}");

        let reopened = Arc::new(OffsetStore::open(Box::new(FileOffsetBackingStore::new(&path))).unwrap());
        assert_eq!(reopened.get("src", &p), Some(offset_map!("position" => 42)));
        // Key order of the partition does not matter.
        assert_eq!(reopened.reader("other").offset(&offset_map!("tasks" => 1, "task" => 0)), Some(offset_map!("next" => 7)));
        assert_eq!(reopened.get("src", &offset_map!("filename" => "/tmp/b.txt")), None);
        // A later write keeps entries written before the reopen.
        reopened.put("src", vec![(p.clone(), offset_map!("position" => 50))]).await.unwrap();
        let again = OffsetStore::open(Box::new(FileOffsetBackingStore::new(&path))).unwrap();
        assert_eq!(again.connector_offsets("other").len(), 1);
        assert_eq!(again.get("src", &p), Some(offset_map!("position" => 50)));
        std::fs::write(&path, "garbage").unwrap();
        assert!(OffsetStore::open(Box::new(FileOffsetBackingStore::new(&path))).is_err());
        let _ = std::fs::remove_file(&path);
    }
}
