//! [`InstitutionStore`] on Redis: one hash of status-page reports and one sorted set of signals
//! per institution, all under the `{institutions}` hash tag (one slot, one pipeline).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::RedisStore;
use crate::domain::institution::StatusReport;
use crate::domain::session::Millis;
use crate::store::{lua, InstitutionStore, StoreError, StoreResult};

#[async_trait]
impl InstitutionStore for RedisStore {
    async fn report_status(&self, code: &str, report: &StatusReport) -> StoreResult<StatusReport> {
        let json = serde_json::to_string(report).expect("reports serialise");
        let key = self.keys.institution_status();
        let mut conn = self.conn();
        let kept: String = self
            .run(
                lua::REPORT_STATUS
                    .key(&key)
                    .arg(code)
                    .arg(json)
                    .invoke_async(&mut conn),
            )
            .await?;
        serde_json::from_str(&kept).map_err(|e| StoreError::corrupt(key, e))
    }

    async fn status_reports(&self) -> StoreResult<BTreeMap<String, StatusReport>> {
        let key = self.keys.institution_status();
        let mut conn = self.conn();
        let raw: BTreeMap<String, String> = self
            .run(redis::cmd("HGETALL").arg(&key).query_async(&mut conn))
            .await?;
        decode_reports(&key, raw)
    }

    async fn note_signal(
        &self,
        code: &str,
        member: &str,
        at: Millis,
        window: Duration,
    ) -> StoreResult<()> {
        let key = self.keys.institution_signals(code);
        let window_ms = window.as_millis() as i64;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .zadd(&key, member, at)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(at - window_ms)
            .ignore()
            .pexpire(&key, window_ms)
            .ignore();
        let mut conn = self.conn();
        self.run(pipe.query_async::<()>(&mut conn)).await
    }

    async fn institution_health(
        &self,
        codes: &[String],
        since: Millis,
    ) -> StoreResult<(
        BTreeMap<String, StatusReport>,
        BTreeMap<String, Vec<Millis>>,
    )> {
        let key = self.keys.institution_status();
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(&key);
        for code in codes {
            pipe.cmd("ZRANGEBYSCORE")
                .arg(self.keys.institution_signals(code))
                .arg(since)
                .arg("+inf")
                .arg("WITHSCORES");
        }
        let mut conn = self.conn();
        let (raw, signals): (BTreeMap<String, String>, Vec<Vec<(String, f64)>>) = {
            let mut replies: Vec<redis::Value> = self.run(pipe.query_async(&mut conn)).await?;
            let decode = |v: redis::Value| redis::from_redis_value(v);
            let rest = replies.split_off(1.min(replies.len()));
            let raw = replies
                .pop()
                .map(decode)
                .transpose()
                .map_err(|e| StoreError::corrupt(&key, e))?
                .unwrap_or_default();
            let signals = rest
                .into_iter()
                .map(|v| redis::from_redis_value(v).map_err(|e| StoreError::corrupt(&key, e)))
                .collect::<StoreResult<_>>()?;
            (raw, signals)
        };
        let times = codes
            .iter()
            .cloned()
            .zip(signals)
            .map(|(code, members)| {
                let times = members.into_iter().map(|(_, at)| at as Millis).collect();
                (code, times)
            })
            .collect();
        Ok((decode_reports(&key, raw)?, times))
    }
}

fn decode_reports(
    key: &str,
    raw: BTreeMap<String, String>,
) -> StoreResult<BTreeMap<String, StatusReport>> {
    raw.into_iter()
        .map(|(code, json)| {
            let report = serde_json::from_str(&json).map_err(|e| StoreError::corrupt(key, e))?;
            Ok((code, report))
        })
        .collect()
}
