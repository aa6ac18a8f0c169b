//! Per-key token buckets: each key may spend `burst` requests at once and
//! regains `per_second` a second.
//!
//! When the store keeps state shared by replicas (PostgreSQL), the buckets
//! live there and all replicas enforce one limit together; otherwise (the
//! embedded store, a single process) they live in this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use engram_engine::{Engine, Throttle};

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Buckets idle this long are full again and can be forgotten.
const IDLE: Duration = Duration::from_secs(600);

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key` from the shared buckets when the store has
    /// them, else from this process's; on refusal returns the seconds until
    /// one is available (for `Retry-After`).
    pub async fn admit(&self, engine: &Engine, key: &str) -> Result<(), u64> {
        let RateLimit { per_second, burst } = self.limit;
        match engine.take_token(key, per_second, burst).await {
            Ok(Throttle::Allowed) => Ok(()),
            Ok(Throttle::RetryAfter(secs)) => Err(secs),
            Ok(Throttle::Local) => self.check(key, Instant::now()),
            Err(e) => {
                // The store is failing: the request will be answered for
                // that; meanwhile this process still limits on its own.
                tracing::warn!(error = %e, "shared rate limit unavailable; limiting in process");
                self.check(key, Instant::now())
            }
        }
    }

    /// Takes one token for `key` in this process; on refusal returns the seconds until one
    /// is available (for `Retry-After`).
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let RateLimit { per_second, burst } = self.limit;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < IDLE);
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refuses_until_refilled() {
        let l = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3.0,
        });
        let t = Instant::now();
        for _ in 0..3 {
            assert!(l.check("k", t).is_ok());
        }
        assert_eq!(l.check("k", t), Err(1));
        assert!(l.check("other", t).is_ok(), "keys have separate buckets");
        assert!(l.check("k", t + Duration::from_millis(500)).is_ok());
        assert!(l.check("k", t + Duration::from_millis(500)).is_err());
    }
}
