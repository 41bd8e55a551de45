//! The S3 client (aws-sdk-s3 over hyper + rustls/ring; plain http for local endpoints) and its
//! error policy.
//!
//! An object is written with one `PutObject` when it fits in `s3.part.size`, else as a
//! multipart upload (parts of `s3.part.size`) that is aborted on failure: either way a crash
//! leaves no visible partial object. Every object carries user metadata ([`CommitMeta`]: the
//! first and one-past-last Kafka offsets of its commit and the commit's number of objects),
//! which the task reads back at start to recover its position from the bucket.
//!
//! Errors: network failures, timeouts, throttling and 5xx are [`ConnectError::Retriable`] (the
//! SDK already retried `s3.part.retries` times with backoff from `s3.retry.backoff.ms`); 4xx
//! answers (bad credentials, missing bucket, access denied) are [`ConnectError::Fatal`] with
//! S3's code and message.

use std::collections::HashMap;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use sluice_sdk::{ConnectError, ConnectResult};

use crate::config::S3SinkConfig;

/// User metadata on every object: one past the last Kafka offset committed with it.
pub const NEXT_OFFSET_META: &str = "sluice-next-offset";
/// User metadata on every object: the first Kafka offset of its commit.
pub const FIRST_OFFSET_META: &str = "sluice-commit-first-offset";
/// User metadata on every object: how many objects its commit has.
pub const COMMIT_FILES_META: &str = "sluice-commit-files";

/// What a commit records on each of its objects, to tell at recovery whether it is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitMeta {
    pub first: i64,
    pub next: i64,
    pub files: usize,
}

/// The bucket the task writes to.
#[derive(Clone)]
pub struct S3Storage {
    client: Client,
    bucket: String,
    part_size: usize,
}

/// Maps an SDK error: 4xx → Fatal with S3's code and message, everything else → Retriable.
fn map_err<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(what: &str, e: SdkError<E>) -> ConnectError {
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().map(str::to_string);
    let message = e.message().map(str::to_string);
    let detail = match (&code, &message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        _ => format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)),
    };
    let text = format!("S3 {what} failed{}: {detail}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default());
    match (&e, status) {
        (SdkError::ServiceError(_), Some(s)) if (400..500).contains(&s) && s != 408 && s != 429 => ConnectError::fatal(text),
        _ => ConnectError::retriable(text),
    }
}

impl S3Storage {
    /// A client with the configured keys, or else AWS's default credential chain (environment,
    /// `~/.aws` profiles, web identity, ECS and EC2 instance metadata), as Confluent's sink.
    pub async fn new(cfg: &S3SinkConfig) -> S3Storage {
        let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let credentials = if cfg.access_key.is_empty() {
            let shared = aws_config::defaults(BehaviorVersion::latest()).http_client(http.clone()).region(Region::new(cfg.region.clone())).load().await;
            match shared.credentials_provider() {
                Some(chain) => chain,
                None => SharedCredentialsProvider::new(Credentials::new("", "", None, None, "sluice-s3-sink")),
            }
        } else {
            SharedCredentialsProvider::new(Credentials::new(cfg.access_key.clone(), cfg.secret_key.clone(), None, None, "sluice-s3-sink"))
        };
        let retry = RetryConfig::standard()
            .with_max_attempts(cfg.retries + 1)
            .with_initial_backoff(Duration::from_millis(cfg.retry_backoff_ms.max(1)))
            .with_max_backoff(Duration::from_secs(5));
        let timeouts = TimeoutConfig::builder().connect_timeout(Duration::from_secs(3)).operation_attempt_timeout(Duration::from_secs(120)).build();
        let mut b = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(cfg.path_style)
            .http_client(http)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(url) = &cfg.endpoint {
            b = b.endpoint_url(url);
        }
        S3Storage { client: Client::from_conf(b.build()), bucket: cfg.bucket.clone(), part_size: cfg.part_size }
    }

    /// Checks that the bucket exists and the credentials work.
    pub async fn check_bucket(&self) -> ConnectResult<()> {
        // ListObjectsV2 (not HeadBucket) so that an auth failure comes with S3's error body.
        self.client.list_objects_v2().bucket(&self.bucket).max_keys(1).send().await.map_err(|e| map_err(&format!("access to bucket '{}'", self.bucket), e))?;
        Ok(())
    }

    /// Writes one object atomically (single PUT or multipart upload).
    pub async fn put(&self, key: &str, body: bytes::Bytes, commit: CommitMeta) -> ConnectResult<()> {
        let meta = HashMap::from([
            (NEXT_OFFSET_META.to_string(), commit.next.to_string()),
            (FIRST_OFFSET_META.to_string(), commit.first.to_string()),
            (COMMIT_FILES_META.to_string(), commit.files.to_string()),
        ]);
        if body.len() <= self.part_size {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .set_metadata(Some(meta))
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| map_err(&format!("PutObject {key}"), e))?;
            return Ok(());
        }
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .set_metadata(Some(meta))
            .send()
            .await
            .map_err(|e| map_err(&format!("CreateMultipartUpload {key}"), e))?;
        let upload_id = created.upload_id().ok_or_else(|| ConnectError::retriable("S3 CreateMultipartUpload returned no upload id"))?.to_string();
        match self.upload_parts(key, &upload_id, &body).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if let Err(abort) = self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(&upload_id).send().await {
                    tracing::warn!(key, error = %aws_sdk_s3::error::DisplayErrorContext(&abort), "could not abort multipart upload; a lifecycle rule cleans it up");
                }
                Err(e)
            }
        }
    }

    async fn upload_parts(&self, key: &str, upload_id: &str, body: &bytes::Bytes) -> ConnectResult<()> {
        let mut parts = Vec::new();
        for (i, start) in (0..body.len()).step_by(self.part_size.max(1)).enumerate() {
            let chunk = body.slice(start..(start + self.part_size).min(body.len()));
            let n = i as i32 + 1;
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(n)
                .body(ByteStream::from(chunk))
                .send()
                .await
                .map_err(|e| map_err(&format!("UploadPart {n} of {key}"), e))?;
            parts.push(CompletedPart::builder().part_number(n).set_e_tag(out.e_tag().map(str::to_string)).build());
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| map_err(&format!("CompleteMultipartUpload {key}"), e))?;
        Ok(())
    }

    /// Every key under `prefix`.
    pub async fn list(&self, prefix: &str) -> ConnectResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(&format!("ListObjectsV2 {prefix}"), e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        Ok(keys)
    }

    /// The commit metadata of an object, if it has it (objects written by other tools do not).
    pub async fn commit_meta_of(&self, key: &str) -> ConnectResult<Option<CommitMeta>> {
        let head = self.client.head_object().bucket(&self.bucket).key(key).send().await.map_err(|e| map_err(&format!("HeadObject {key}"), e))?;
        let get = |k: &str| head.metadata().and_then(|m| m.get(k)).and_then(|v| v.parse::<i64>().ok());
        Ok(match (get(FIRST_OFFSET_META), get(NEXT_OFFSET_META), get(COMMIT_FILES_META)) {
            (Some(first), Some(next), Some(files)) => Some(CommitMeta { first, next, files: files.max(0) as usize }),
            _ => None,
        })
    }
}
