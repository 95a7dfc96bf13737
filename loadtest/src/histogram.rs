//! A latency histogram with two significant digits: small, and mergeable across worker
//! processes (they send it as JSON).

use std::collections::BTreeMap;
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
        self.record((chrono::Utc::now() - at).to_std().unwrap_or_default());
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

    /// The largest sample's bucket in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.buckets
            .keys()
            .next_back()
            .map_or(0.0, |b| *b as f64 / 1000.0)
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
}
