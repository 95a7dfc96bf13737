//! A latency histogram with two significant digits: small, and mergeable across worker
//! processes (they send it as JSON); and its lock-free twin that a worker's sessions
//! all record into, so a run's latency can be read while it goes on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Counts of samples by bucket (microseconds, rounded down to two significant digits).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Histogram {
    buckets: BTreeMap<u64, u64>,
}

fn bucket(us: u64) -> u64 {
    let (mut m, mut scale) = (us, 1);
    while m >= 100 {
        m /= 10;
        scale *= 10;
    }
    m * scale
}

impl Histogram {
    /// Adds one sample.
    pub fn record(&mut self, sample: Duration) {
        *self
            .buckets
            .entry(bucket(sample.as_micros() as u64))
            .or_default() += 1;
    }

    /// Adds the time from `at` (an event's commit time) until now.
    pub fn record_since(&mut self, at: chrono::DateTime<chrono::Utc>) {
        self.record(elapsed_since(at));
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Histogram) {
        for (b, n) in &other.buckets {
            *self.buckets.entry(*b).or_default() += n;
        }
    }

    /// How many samples.
    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The `q` quantile (0..=1) in milliseconds, or 0 without samples.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return 0.0;
        }
        let rank = ((total as f64 * q).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (b, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return *b as f64 / 1000.0;
            }
        }
        0.0
    }

    /// The samples added since `earlier`, a copy of this histogram taken before.
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let buckets = self
            .buckets
            .iter()
            .map(|(b, n)| (*b, n - earlier.buckets.get(b).copied().unwrap_or(0).min(*n)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Histogram { buckets }
    }

    /// The largest sample's bucket in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.buckets
            .keys()
            .next_back()
            .map_or(0.0, |b| *b as f64 / 1000.0)
    }
}

/// The time from `at` until now; zero if `at` is ahead of this machine's clock.
fn elapsed_since(at: chrono::DateTime<chrono::Utc>) -> Duration {
    (chrono::Utc::now() - at).to_std().unwrap_or_default()
}

/// Buckets below 100 µs are exact; above, 90 a decade (10..=99 times a power of ten)
/// up to 1,000 s, where the last one holds everything longer.
const DECADES: usize = 7;
const SLOTS: usize = 100 + 90 * DECADES;

fn slot(us: u64) -> usize {
    let (mut m, mut decade) = (us, 0);
    while m >= 100 {
        m /= 10;
        decade += 1;
    }
    if decade == 0 {
        m as usize
    } else {
        (100 + 90 * (decade - 1) + (m as usize - 10)).min(SLOTS - 1)
    }
}

fn slot_bucket(slot: usize) -> u64 {
    if slot < 100 {
        slot as u64
    } else {
        let (decade, m) = ((slot - 100) / 90 + 1, (slot - 100) % 90 + 10);
        m as u64 * 10u64.pow(decade as u32)
    }
}

/// A histogram many tasks record into at once, without a lock.
pub struct AtomicHistogram {
    slots: Box<[AtomicU64]>,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        AtomicHistogram {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl AtomicHistogram {
    /// Adds the time from `at` (an event's commit time) until now.
    pub fn record_since(&self, at: chrono::DateTime<chrono::Utc>) {
        let us = elapsed_since(at).as_micros().min(u64::MAX as u128) as u64;
        self.slots[slot(us)].fetch_add(1, Ordering::Relaxed);
    }

    /// The samples so far.
    pub fn snapshot(&self) -> Histogram {
        let buckets = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, n)| (slot_bucket(i), n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Histogram { buckets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_merged_samples() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        for ms in 1..=50 {
            a.record(Duration::from_millis(ms));
        }
        for ms in 51..=100 {
            b.record(Duration::from_millis(ms));
        }
        a.merge(&b);
        assert_eq!(a.count(), 100);
        assert_eq!(a.quantile_ms(0.5), 50.0);
        assert_eq!(a.quantile_ms(0.99), 99.0);
        assert_eq!(a.max_ms(), 100.0);
        assert_eq!(bucket(12_345), 12_000);
    }

    #[test]
    fn slots_hold_the_same_buckets_as_the_histogram() {
        for us in [
            0,
            7,
            99,
            100,
            101,
            999,
            1_000,
            12_345,
            98_765_432,
            999_999_999,
        ] {
            assert_eq!(slot_bucket(slot(us)), bucket(us), "{us} µs");
        }
        assert_eq!(slot(u64::MAX), SLOTS - 1);
    }

    #[test]
    fn a_window_is_what_was_added_since_a_snapshot() {
        let live = AtomicHistogram::default();
        let now = chrono::Utc::now();
        live.record_since(now - chrono::Duration::milliseconds(5));
        let before = live.snapshot();
        for _ in 0..3 {
            live.record_since(now - chrono::Duration::milliseconds(40));
        }
        let window = live.snapshot().since(&before);
        assert_eq!(window.count(), 3);
        assert!(window.quantile_ms(0.5) >= 40.0, "{window:?}");
        assert_eq!(live.snapshot().count(), 4);
    }
}
