//! How many frames a socket may send: a token bucket, and how long a client may stay
//! over it before it is closed. Plain data, so the rule is tested without a socket.

use std::time::Instant;

/// Frames a client may send at once before the rate applies.
pub const BURST: f64 = 100.0;
/// Frames a client may send per second, sustained.
pub const PER_SECOND: f64 = 20.0;
/// Rate-limited frames in a row after which the socket is closed with 4029.
pub const MAX_REFUSED: u32 = 100;

/// What to do with the frame that just arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Serve,
    /// Answer `rate_limited` and drop it.
    Refuse,
    /// Close the socket with 4029: the client ignores the refusals.
    Close,
}

/// One socket's frame allowance.
pub struct FrameBudget {
    /// Frames the client may still send now.
    allowance: f64,
    /// When the allowance was last topped up.
    topped_up: Instant,
    /// Frames refused in a row.
    refused: u32,
}

impl FrameBudget {
    /// A full bucket at `now`.
    pub fn new(now: Instant) -> Self {
        FrameBudget {
            allowance: BURST,
            topped_up: now,
            refused: 0,
        }
    }

    /// Spends one frame's allowance at `now`, if there is one.
    pub fn take(&mut self, now: Instant) -> Verdict {
        let gained = now.saturating_duration_since(self.topped_up).as_secs_f64() * PER_SECOND;
        self.allowance = (self.allowance + gained).min(BURST);
        self.topped_up = now;
        if self.allowance >= 1.0 {
            self.allowance -= 1.0;
            self.refused = 0;
            return Verdict::Serve;
        }
        self.refused += 1;
        if self.refused >= MAX_REFUSED {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_is_served_then_the_next_frame_is_refused() {
        let start = Instant::now();
        let mut budget = FrameBudget::new(start);
        for _ in 0..BURST as usize {
            assert_eq!(budget.take(start), Verdict::Serve);
        }
        assert_eq!(budget.take(start), Verdict::Refuse);
    }

    #[test]
    fn the_allowance_refills_at_the_sustained_rate_and_no_further_than_the_burst() {
        let start = Instant::now();
        let mut budget = FrameBudget::new(start);
        for _ in 0..BURST as usize {
            budget.take(start);
        }
        let later = start + Duration::from_millis(100);
        let refilled = (0.1 * PER_SECOND) as usize;
        for _ in 0..refilled {
            assert_eq!(budget.take(later), Verdict::Serve);
        }
        assert_eq!(budget.take(later), Verdict::Refuse);
        let much_later = later + Duration::from_secs(3600);
        let served = (0..2 * BURST as usize)
            .take_while(|_| budget.take(much_later) == Verdict::Serve)
            .count();
        assert_eq!(served, BURST as usize);
    }

    #[test]
    fn only_refusals_in_a_row_close_the_socket() {
        let start = Instant::now();
        let mut budget = FrameBudget::new(start);
        for _ in 0..BURST as usize {
            budget.take(start);
        }
        for _ in 1..MAX_REFUSED {
            assert_eq!(budget.take(start), Verdict::Refuse);
        }
        let refill = start + Duration::from_secs_f64(1.0 / PER_SECOND);
        assert_eq!(
            budget.take(refill),
            Verdict::Serve,
            "a served frame resets the count"
        );
        for _ in 1..MAX_REFUSED {
            assert_eq!(budget.take(refill), Verdict::Refuse);
        }
        assert_eq!(budget.take(refill), Verdict::Close);
    }
}
