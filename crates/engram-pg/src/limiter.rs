//! A token-bucket rate limiter shared by every replica: one row per bucket,
//! refilled and spent in a single atomic upsert, timed by the database's
//! clock so replicas with skewed clocks agree.
//!
//! Buckets idle long enough to be full again carry no information; a
//! periodic upkeep deletes them, run by one replica at a time (see
//! [`upkeep`]).

use deadpool_postgres::Object;

use engram_core::Result;
use engram_store::Throttle;

use crate::rows::Stored;
use crate::sql::db_err;

/// Spends one token of `bucket` if it has one.
pub async fn take(client: &Object, bucket: &str, per_second: f64, burst: f64) -> Result<Throttle> {
    // `now()` is the statement's start: one instant for the whole upsert.
    let refilled =
        "least($3::float8, b.tokens + extract(epoch FROM now() - b.at)::float8 * $2::float8)";
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO rate_buckets AS b (bucket, tokens, allowed, at) \
             VALUES ($1, $3::float8 - 1, true, now()) \
             ON CONFLICT (bucket) DO UPDATE SET \
               tokens = CASE WHEN {refilled} >= 1 THEN {refilled} - 1 ELSE {refilled} END, \
               allowed = {refilled} >= 1, \
               at = now() \
             RETURNING b.allowed, b.tokens"
        ))
        .await
        .map_err(db_err)?;
    let row = client
        .query_one(&stmt, &[&bucket, &per_second, &burst])
        .await
        .map_err(db_err)?;
    let s = Stored::named(&row, format!("rate_buckets row {bucket}"));
    let (allowed, tokens): (bool, f64) = (s.get(0)?, s.get(1)?);
    Ok(if allowed {
        Throttle::Allowed
    } else {
        Throttle::RetryAfter(((1.0 - tokens) / per_second).ceil().max(1.0) as u64)
    })
}

/// Deletes buckets idle for ten minutes, at most once a minute across all
/// replicas: the replica whose update of `meta.upkeep_at` succeeds runs it,
/// the others see the fresh timestamp and skip.
pub async fn upkeep(client: &Object) -> Result<()> {
    let claimed = client
        .execute(
            "INSERT INTO meta AS m (key, value) VALUES ('upkeep_at', now()::text) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value \
             WHERE m.value::timestamptz < now() - interval '1 minute'",
            &[],
        )
        .await
        .map_err(db_err)?;
    if claimed == 1 {
        let n = client
            .execute(
                "DELETE FROM rate_buckets WHERE at < clock_timestamp() - interval '10 minutes'",
                &[],
            )
            .await
            .map_err(db_err)?;
        tracing::debug!(deleted = n, "idle rate-limit buckets removed");
    }
    Ok(())
}
