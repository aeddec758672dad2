//! A token bucket per Stats API key.
//!
//! Each key may make `burst` requests at once and then `per_second` requests
//! a second on average. Buckets are keyed by a hash of the key (the key itself
//! is not kept); the table is bounded: past [`RateLimiter::MAX_BUCKETS`] keys,
//! full buckets (keys idle long enough to have refilled) are forgotten, which
//! changes nothing for them.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;

/// Per-key token buckets.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    hasher: RandomState,
    buckets: Mutex<HashMap<u64, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated_ms: u64,
}

/// A request refused: retry after this many whole seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u32);

impl RateLimiter {
    /// Keys beyond which full buckets are forgotten.
    pub const MAX_BUCKETS: usize = 10_000;

    /// `per_second` sustained, `burst` at once (both at least 1).
    pub fn new(per_second: f64, burst: u32) -> Self {
        RateLimiter {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst: f64::from(burst.max(1)),
            hasher: RandomState::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket at `now_ms`.
    ///
    /// # Errors
    /// [`RetryAfter`] when the bucket is empty.
    pub fn check(&self, key: &str, now_ms: u64) -> Result<(), RetryAfter> {
        let id = self.hasher.hash_one(key);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= Self::MAX_BUCKETS && !buckets.contains_key(&id) {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| refilled(*b, now_ms, per_second, burst) < burst);
        }
        let bucket = buckets.entry(id).or_insert(Bucket {
            tokens: self.burst,
            updated_ms: now_ms,
        });
        let tokens = refilled(*bucket, now_ms, self.per_second, self.burst);
        bucket.updated_ms = bucket.updated_ms.max(now_ms);
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            let wait_s = ((1.0 - tokens) / self.per_second).ceil();
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "clamped to 1..=u32::MAX first"
            )]
            Err(RetryAfter(wait_s.clamp(1.0, f64::from(u32::MAX)) as u32))
        }
    }
}

fn refilled(bucket: Bucket, now_ms: u64, per_second: f64, burst: f64) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "milliseconds between two calls")]
    let elapsed_s = now_ms.saturating_sub(bucket.updated_ms) as f64 / 1000.0;
    (bucket.tokens + elapsed_s * per_second).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (key, time in ms, expected) in order, on a 2/s limiter with a burst of 3.
    #[test]
    fn token_bucket_table() {
        let limiter = RateLimiter::new(2.0, 3);
        let steps: &[(&str, u64, Result<(), RetryAfter>)] = &[
            ("a", 0, Ok(())),
            ("a", 0, Ok(())),
            ("a", 0, Ok(())),
            // The burst is spent: half a second buys the next token.
            ("a", 0, Err(RetryAfter(1))),
            // Another key has its own bucket.
            ("b", 0, Ok(())),
            ("a", 499, Err(RetryAfter(1))),
            ("a", 500, Ok(())),
            ("a", 500, Err(RetryAfter(1))),
            // Long idle refills to the burst, not beyond.
            ("a", 60_000, Ok(())),
            ("a", 60_000, Ok(())),
            ("a", 60_000, Ok(())),
            ("a", 60_000, Err(RetryAfter(1))),
            // A clock going backwards never refills.
            ("a", 1_000, Err(RetryAfter(1))),
        ];
        for (i, (key, now, expected)) in steps.iter().enumerate() {
            assert_eq!(
                limiter.check(key, *now),
                *expected,
                "step {i}: {key} at {now} ms"
            );
        }
    }

    #[test]
    fn slow_rates_ask_for_longer_waits() {
        let limiter = RateLimiter::new(0.1, 1);
        assert_eq!(limiter.check("k", 0), Ok(()));
        assert_eq!(limiter.check("k", 0), Err(RetryAfter(10)));
        assert_eq!(limiter.check("k", 5_000), Err(RetryAfter(5)));
    }

    #[test]
    fn the_table_of_buckets_is_bounded() {
        let limiter = RateLimiter::new(1.0, 1);
        for i in 0..RateLimiter::MAX_BUCKETS + 10 {
            // Each key spends its only token; one second later all are full again.
            let now = if i < RateLimiter::MAX_BUCKETS {
                0
            } else {
                1_000
            };
            assert_eq!(limiter.check(&format!("key{i}"), now), Ok(()));
        }
        let len = limiter.buckets.lock().unwrap().len();
        assert!(len <= 11, "{len} buckets kept");
    }
}
