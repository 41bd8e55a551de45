//! Group membership through Kafka's group coordinator, as Kafka Connect's `WorkerCoordinator`
//! does it (librdkafka has no custom group protocols): a small client on the `kafka-protocol`
//! crate speaking FindCoordinator (v2), JoinGroup (v5, protocol type `connect`), SyncGroup (v3),
//! Heartbeat (v3) and LeaveGroup (v1) over plain TCP.
//!
//! One connection carries JoinGroup/SyncGroup/LeaveGroup (they block for the whole rebalance),
//! a second one carries heartbeats, so a long join never starves them. Errors are mapped to what
//! the caller does next ([`GroupError`]): rejoin (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION —
//! the test broker answers a stale generation with 27, Kafka with 22), reset the member id
//! (UNKNOWN_MEMBER_ID), find the coordinator again (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
//! connection loss). MEMBER_ID_REQUIRED is handled inside [`Membership::join`] by retrying with
//! the id the coordinator assigned.
//!
//! Limits: plaintext only (no TLS/SASL to the broker), one bootstrap server tried after another.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, RequestHeader, ResponseHeader, SyncGroupRequest,
    join_group_request::JoinGroupRequestProtocol, sync_group_request::SyncGroupRequestAssignment,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// The protocol type of Connect groups.
pub const PROTOCOL_TYPE: &str = "connect";
/// The one protocol name offered (the test broker keeps the first member's first protocol).
pub const PROTOCOL_NAME: &str = "sluice-v1";

const NONE: i16 = 0;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;

/// What went wrong, as far as what to do next.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The group is rebalancing or our generation is stale: join again.
    #[error("rebalance needed (error {0})")]
    Rejoin(i16),
    /// The coordinator forgot us: join again with an empty member id.
    #[error("unknown member id")]
    UnknownMember,
    /// The coordinator moved or is unreachable: find it again.
    #[error("coordinator lost: {0}")]
    CoordinatorLost(String),
    /// Anything else (a bad config, an unexpected error code).
    #[error("group error: {0}")]
    Other(String),
}

type GroupResult<T> = Result<T, GroupError>;

fn code_error(code: i16, what: &str) -> GroupError {
    match code {
        REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION => GroupError::Rejoin(code),
        UNKNOWN_MEMBER_ID => GroupError::UnknownMember,
        NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE | COORDINATOR_LOAD_IN_PROGRESS => GroupError::CoordinatorLost(format!("{what}: error {code}")),
        c => GroupError::Other(format!("{what} failed with Kafka error code {c}")),
    }
}

/// A Kafka connection doing one request at a time.
pub struct Connection {
    stream: TcpStream,
    correlation: i32,
    client_id: String,
}

impl Connection {
    pub async fn open(addr: &str, client_id: &str, timeout: Duration) -> GroupResult<Connection> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| GroupError::CoordinatorLost(format!("connecting to {addr} timed out")))?
            .map_err(|e| GroupError::CoordinatorLost(format!("cannot connect to {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        Ok(Connection { stream, correlation: 0, client_id: client_id.to_string() })
    }

    /// Sends one request and reads its response (waiting at most `timeout`).
    pub async fn send<R: Request>(&mut self, req: &R, version: i16, timeout: Duration) -> GroupResult<R::Response> {
        let lost = |e: String| GroupError::CoordinatorLost(e);
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_string(self.client_id.clone())));
        let mut body = BytesMut::new();
        header.encode(&mut body, R::header_version(version)).map_err(|e| GroupError::Other(e.to_string()))?;
        req.encode(&mut body, version).map_err(|e| GroupError::Other(e.to_string()))?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        let io = async {
            self.stream.write_all(&frame).await?;
            let len = self.stream.read_i32().await?;
            let mut buf = vec![0u8; len.max(0) as usize];
            self.stream.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        };
        let buf = tokio::time::timeout(timeout, io).await.map_err(|_| lost("request timed out".into()))?.map_err(|e| lost(e.to_string()))?;
        let mut buf = Bytes::from(buf);
        let header = ResponseHeader::decode(&mut buf, R::Response::header_version(version)).map_err(|e| lost(e.to_string()))?;
        if header.correlation_id != self.correlation {
            return Err(lost(format!("correlation id mismatch: {} != {}", header.correlation_id, self.correlation)));
        }
        let resp = R::Response::decode(&mut buf, version).map_err(|e| lost(format!("cannot decode response: {e}")))?;
        let _ = buf.remaining();
        Ok(resp)
    }
}

/// The settings of a member.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    pub bootstrap: Vec<String>,
    pub group_id: String,
    pub client_id: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub heartbeat_interval: Duration,
}

/// The outcome of a JoinGroup.
#[derive(Debug, Clone)]
pub struct Joined {
    pub generation: i32,
    pub member_id: String,
    pub leader_id: String,
    /// Every member's metadata; empty unless we are the leader.
    pub members: Vec<(String, Bytes)>,
}

impl Joined {
    pub fn is_leader(&self) -> bool {
        self.member_id == self.leader_id
    }
}

/// A member of one group.
pub struct Membership {
    pub config: MemberConfig,
    coordinator: Mutex<Option<String>>,
    conn: Mutex<Option<Connection>>,
    heartbeat_conn: Mutex<Option<Connection>>,
    member_id: Mutex<String>,
    generation: AtomicI32,
}

impl Membership {
    pub fn new(config: MemberConfig) -> Membership {
        Membership {
            config,
            coordinator: Mutex::new(None),
            conn: Mutex::new(None),
            heartbeat_conn: Mutex::new(None),
            member_id: Mutex::new(String::new()),
            generation: AtomicI32::new(-1),
        }
    }

    /// Finds the group coordinator through any bootstrap server.
    pub async fn find_coordinator(&self) -> GroupResult<String> {
        let mut last = String::from("no bootstrap servers");
        for server in &self.config.bootstrap {
            let mut conn = match Connection::open(server, &self.config.client_id, Duration::from_secs(5)).await {
                Ok(c) => c,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let req = FindCoordinatorRequest::default().with_key(StrBytes::from_string(self.config.group_id.clone())).with_key_type(0);
            match conn.send(&req, 2, Duration::from_secs(10)).await {
                Ok(resp) if resp.error_code == NONE => {
                    let addr = format!("{}:{}", resp.host.as_str(), resp.port);
                    tracing::info!(group = %self.config.group_id, coordinator = %addr, "found group coordinator");
                    *self.coordinator.lock().await = Some(addr.clone());
                    *self.conn.lock().await = None;
                    *self.heartbeat_conn.lock().await = None;
                    return Ok(addr);
                }
                Ok(resp) => last = format!("FindCoordinator answered error {}", resp.error_code),
                Err(e) => last = e.to_string(),
            }
        }
        Err(GroupError::CoordinatorLost(last))
    }

    async fn with_conn<T>(&self, heartbeat: bool, f: impl AsyncFnOnce(&mut Connection) -> GroupResult<T>) -> GroupResult<T> {
        let coordinator = match self.coordinator.lock().await.clone() {
            Some(c) => c,
            None => self.find_coordinator().await?,
        };
        let slot = if heartbeat { &self.heartbeat_conn } else { &self.conn };
        let mut guard = slot.lock().await;
        if guard.is_none() {
            *guard = Some(Connection::open(&coordinator, &self.config.client_id, Duration::from_secs(5)).await?);
        }
        let Some(conn) = guard.as_mut() else { return Err(GroupError::CoordinatorLost("no connection".into())) };
        let result = f(conn).await;
        if let Err(GroupError::CoordinatorLost(_)) = &result {
            *guard = None;
            *self.coordinator.lock().await = None;
        }
        result
    }

    /// JoinGroup with our metadata; retries once with the id a MEMBER_ID_REQUIRED answer gave.
    pub async fn join(&self, metadata: Bytes) -> GroupResult<Joined> {
        for _ in 0..3 {
            let member_id = self.member_id.lock().await.clone();
            let req = JoinGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
                .with_session_timeout_ms(self.config.session_timeout.as_millis() as i32)
                .with_rebalance_timeout_ms(self.config.rebalance_timeout.as_millis() as i32)
                .with_member_id(StrBytes::from_string(member_id))
                .with_protocol_type(StrBytes::from_static_str(PROTOCOL_TYPE))
                .with_protocols(vec![JoinGroupRequestProtocol::default().with_name(StrBytes::from_static_str(PROTOCOL_NAME)).with_metadata(metadata.clone())]);
            let timeout = self.config.rebalance_timeout + self.config.session_timeout + Duration::from_secs(5);
            let resp = self.with_conn(false, async |c| c.send(&req, 5, timeout).await).await?;
            match resp.error_code {
                NONE => {
                    let joined = Joined {
                        generation: resp.generation_id,
                        member_id: resp.member_id.as_str().to_string(),
                        leader_id: resp.leader.as_str().to_string(),
                        members: resp.members.into_iter().map(|m| (m.member_id.as_str().to_string(), m.metadata)).collect(),
                    };
                    tracing::debug!(generation = joined.generation, member = %joined.member_id, leader = %joined.leader_id, members = joined.members.len(), protocol = ?resp.protocol_name, "JoinGroup answered");
                    *self.member_id.lock().await = joined.member_id.clone();
                    self.generation.store(joined.generation, Ordering::Release);
                    return Ok(joined);
                }
                MEMBER_ID_REQUIRED => {
                    tracing::debug!(member = resp.member_id.as_str(), "coordinator assigned a member id");
                    *self.member_id.lock().await = resp.member_id.as_str().to_string();
                }
                UNKNOWN_MEMBER_ID => {
                    self.member_id.lock().await.clear();
                }
                code => return Err(code_error(code, "JoinGroup")),
            }
        }
        Err(GroupError::Other("JoinGroup kept asking for a member id".into()))
    }

    /// SyncGroup: the leader hands out `assignments`; everyone gets their own back.
    pub async fn sync(&self, joined: &Joined, assignments: Vec<(String, Bytes)>) -> GroupResult<Bytes> {
        let req = SyncGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
            .with_generation_id(joined.generation)
            .with_member_id(StrBytes::from_string(joined.member_id.clone()))
            .with_assignments(
                assignments
                    .into_iter()
                    .map(|(m, a)| SyncGroupRequestAssignment::default().with_member_id(StrBytes::from_string(m)).with_assignment(a))
                    .collect(),
            );
        let timeout = self.config.rebalance_timeout + Duration::from_secs(5);
        let resp = self.with_conn(false, async |c| c.send(&req, 3, timeout).await).await?;
        if resp.error_code != NONE {
            if resp.error_code == UNKNOWN_MEMBER_ID {
                self.member_id.lock().await.clear();
            }
            return Err(code_error(resp.error_code, "SyncGroup"));
        }
        Ok(resp.assignment)
    }

    /// One heartbeat for the current generation.
    pub async fn heartbeat(&self) -> GroupResult<()> {
        let member_id = self.member_id.lock().await.clone();
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
            .with_generation_id(self.generation.load(Ordering::Acquire))
            .with_member_id(StrBytes::from_string(member_id));
        let timeout = self.config.session_timeout;
        let resp = self.with_conn(true, async |c| c.send(&req, 3, timeout).await).await?;
        match resp.error_code {
            NONE => Ok(()),
            UNKNOWN_MEMBER_ID => {
                self.member_id.lock().await.clear();
                Err(GroupError::UnknownMember)
            }
            code => Err(code_error(code, "Heartbeat")),
        }
    }

    /// LeaveGroup (on shutdown), so the others rebalance at once instead of after the session
    /// timeout.
    pub async fn leave(&self) {
        let member_id = self.member_id.lock().await.clone();
        if member_id.is_empty() {
            return;
        }
        let req = LeaveGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
            .with_member_id(StrBytes::from_string(member_id));
        match self.with_conn(true, async |c| c.send(&req, 1, Duration::from_secs(5)).await).await {
            Ok(r) if r.error_code == NONE => tracing::info!(group = %self.config.group_id, "left the group"),
            Ok(r) => tracing::warn!(code = r.error_code, "LeaveGroup failed"),
            Err(e) => tracing::warn!(error = %e, "LeaveGroup failed"),
        }
    }
}
