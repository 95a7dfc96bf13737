//! The ordering core of one topic on one node, with no actor and no database in it, so it
//! can be tested alone: the [`owner`](super::owner) feeds it announcements and log reads
//! and does what it answers (send these events, read the log after that seq).
//!
//! It keeps `head`, the last seq handed to subscribers, and hands out events strictly in
//! seq order, each once: an announcement that skips ahead waits while the gap is read from
//! the log; one at or below `head` is a duplicate and is dropped. A ring of the most recent
//! events lets a new subscriber catch up from memory when it covers the range.

use std::collections::{BTreeMap, VecDeque};

/// An event with its place in its topic.
pub trait Sequenced: Clone {
    /// Its seq: 1, 2, 3 … without gaps in the topic's log.
    fn seq(&self) -> u64;
}

/// What the owner must do after a call: deliver `deliver` in order (the sequencer has
/// already made the last one its head), then, with `read_after`, read the log after that
/// seq and hand the result to [`Sequencer::read`].
#[derive(Debug)]
pub struct Next<E> {
    /// The events to deliver, in order.
    pub deliver: Vec<E>,
    /// Read the log after this seq: there is a gap, or an announcement came without its event.
    pub read_after: Option<u64>,
}

impl<E> Next<E> {
    fn nothing() -> Self {
        Next {
            deliver: Vec::new(),
            read_after: None,
        }
    }
}

/// How a subscriber that has seen up to `after` catches up to `head`.
#[derive(Debug, PartialEq)]
pub enum CatchUp<E> {
    /// From memory: these events (those after `after`, possibly none); then it is live.
    Ring(Vec<E>),
    /// The ring does not reach back that far: read the log after `after` first.
    Log {
        /// The seq to read after.
        after: u64,
    },
}

/// The ordering state of one topic.
#[derive(Debug)]
pub struct Sequencer<E> {
    head: Option<u64>,
    recent: VecDeque<E>,
    ring: usize,
    /// Announced ahead of `head`; `None` when announced by seq only.
    waiting: BTreeMap<u64, Option<E>>,
    reading: bool,
}

impl<E: Sequenced> Sequencer<E> {
    /// A topic not followed yet (its head unknown), keeping the last `ring` events.
    pub fn new(ring: usize) -> Self {
        Sequencer {
            head: None,
            // Grown as events come: most topics (a member's) see few, and a topic is
            // made for every session.
            recent: VecDeque::new(),
            ring,
            waiting: BTreeMap::new(),
            reading: false,
        }
    }

    /// The last seq handed out, once known.
    pub fn head(&self) -> Option<u64> {
        self.head
    }

    /// An event (or only its seq) was committed.
    pub fn announce(&mut self, seq: u64, event: Option<E>) -> Next<E> {
        if self.head.is_some_and(|head| seq <= head) {
            return Next::nothing();
        }
        let slot = self.waiting.entry(seq).or_insert(None);
        if slot.is_none() {
            *slot = event;
        }
        self.drain()
    }

    /// The head a consistent read saw, for a topic whose head was unknown; ignored once known.
    pub fn learn_head(&mut self, head: u64) -> Next<E> {
        if self.head.is_some() {
            return Next::nothing();
        }
        self.head = Some(head);
        self.drain()
    }

    /// Read the log again from `head` (after a failed read, or when told events may have
    /// been missed).
    pub fn resync(&mut self) -> Next<E> {
        self.read_next()
    }

    /// What a log read after `read_after` found (`full`: as many as asked for, so there
    /// may be more).
    pub fn read(&mut self, frames: Vec<E>, full: bool) -> Next<E> {
        self.reading = false;
        let mut deliver = Vec::new();
        for frame in frames {
            if self.head.is_some_and(|head| frame.seq() == head + 1) {
                self.hand_out(frame.clone());
                deliver.push(frame);
            }
        }
        let mut next = if full { self.read_next() } else { self.drain() };
        deliver.append(&mut next.deliver);
        next.deliver = deliver;
        next
    }

    /// A log read failed: nothing is being read now; call [`Sequencer::resync`] later.
    pub fn read_failed(&mut self) {
        self.reading = false;
    }

    /// How a subscriber that has seen up to `after` catches up.
    pub fn catch_up(&self, after: u64) -> CatchUp<E> {
        let head = self.head.unwrap_or(after);
        let covered = self
            .recent
            .front()
            .is_some_and(|first| first.seq() <= after + 1);
        if after < head && !covered {
            return CatchUp::Log { after };
        }
        CatchUp::Ring(
            self.recent
                .iter()
                .filter(|e| e.seq() > after)
                .cloned()
                .collect(),
        )
    }

    fn hand_out(&mut self, event: E) {
        self.head = Some(event.seq());
        if self.recent.len() == self.ring {
            self.recent.pop_front();
        }
        if self.ring > 0 {
            self.recent.push_back(event);
        }
    }

    /// Hands out what waits in order after `head`; asks for a read at a gap.
    fn drain(&mut self) -> Next<E> {
        let mut deliver = Vec::new();
        let Some(mut head) = self.head else {
            return Next::nothing();
        };
        self.waiting = self.waiting.split_off(&(head + 1));
        loop {
            match self.waiting.first_key_value() {
                Some((&seq, Some(_))) if seq == head + 1 => {
                    let event = self.waiting.remove(&seq).flatten().expect("checked above");
                    self.hand_out(event.clone());
                    deliver.push(event);
                    head = seq;
                }
                Some(_) => {
                    let mut next = self.read_next();
                    next.deliver = deliver;
                    return next;
                }
                None => {
                    return Next {
                        deliver,
                        read_after: None,
                    }
                }
            }
        }
    }

    fn read_next(&mut self) -> Next<E> {
        match self.head {
            Some(head) if !self.reading => {
                self.reading = true;
                Next {
                    deliver: Vec::new(),
                    read_after: Some(head),
                }
            }
            _ => Next::nothing(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    impl Sequenced for u64 {
        fn seq(&self) -> u64 {
            *self
        }
    }

    #[test]
    fn in_order_announcements_are_handed_out_at_once() {
        let mut s = Sequencer::new(4);
        assert!(
            s.announce(1, Some(1)).deliver.is_empty(),
            "head unknown yet"
        );
        let next = s.learn_head(0);
        assert_eq!(next.deliver, vec![1]);
        assert_eq!(s.announce(2, Some(2)).deliver, vec![2]);
        assert_eq!(s.head(), Some(2));
    }

    #[test]
    fn a_duplicate_or_an_old_seq_is_dropped() {
        let mut s = Sequencer::new(4);
        s.learn_head(5);
        assert!(s.announce(5, Some(5)).deliver.is_empty());
        assert!(s.announce(3, Some(3)).deliver.is_empty());
        assert_eq!(s.announce(6, Some(6)).deliver, vec![6]);
        assert!(s.announce(6, Some(6)).deliver.is_empty());
    }

    #[test]
    fn a_gap_is_read_from_the_log_once_and_what_waited_follows_it() {
        let mut s = Sequencer::new(8);
        s.learn_head(1);
        let next = s.announce(4, Some(4));
        assert!(next.deliver.is_empty());
        assert_eq!(next.read_after, Some(1));
        // A second gap while the read is out asks for no second read.
        assert_eq!(s.announce(6, Some(6)).read_after, None);
        let next = s.read(vec![2, 3], false);
        assert_eq!(next.deliver, vec![2, 3, 4]);
        assert_eq!(next.read_after, Some(4), "5 is still missing");
        assert_eq!(s.read(vec![5, 6], false).deliver, vec![5, 6]);
    }

    #[test]
    fn an_announcement_by_seq_only_is_read_from_the_log() {
        let mut s = Sequencer::new(8);
        s.learn_head(0);
        let next = s.announce(1, None);
        assert_eq!(next.read_after, Some(0));
        assert_eq!(s.read(vec![1], false).deliver, vec![1]);
    }

    #[test]
    fn a_full_read_asks_for_the_next_batch() {
        let mut s = Sequencer::new(8);
        s.learn_head(0);
        s.announce(5, None);
        let next = s.read(vec![1, 2], true);
        assert_eq!(next.deliver, vec![1, 2]);
        assert_eq!(next.read_after, Some(2));
    }

    #[test]
    fn a_failed_read_is_asked_again_on_resync() {
        let mut s = Sequencer::new(8);
        s.learn_head(0);
        assert_eq!(s.announce(2, Some(2)).read_after, Some(0));
        s.read_failed();
        assert_eq!(s.resync().read_after, Some(0));
        assert_eq!(s.read(vec![1, 2], false).deliver, vec![1, 2]);
    }

    #[test]
    fn a_subscriber_catches_up_from_the_ring_when_it_reaches_back_far_enough() {
        let mut s = Sequencer::new(3);
        s.learn_head(0);
        for seq in 1..=5 {
            s.announce(seq, Some(seq));
        }
        // The ring holds 3, 4, 5.
        assert_eq!(s.catch_up(2), CatchUp::Ring(vec![3, 4, 5]));
        assert_eq!(s.catch_up(4), CatchUp::Ring(vec![5]));
        assert_eq!(s.catch_up(5), CatchUp::Ring(vec![]));
        assert_eq!(s.catch_up(1), CatchUp::Log { after: 1 });
    }

    /// One step of a run: an announcement (with its event or by seq only), or the answer
    /// to the read that is out.
    #[derive(Debug, Clone)]
    enum Op {
        Announce { seq: u64, with_event: bool },
        AnswerRead { batch: usize },
        FailRead,
    }

    fn ops(last: u64) -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                4 => (1..=last, any::<bool>()).prop_map(|(seq, with_event)| Op::Announce { seq, with_event }),
                2 => (1..4usize).prop_map(|batch| Op::AnswerRead { batch }),
                1 => Just(Op::FailRead),
            ],
            0..120,
        )
    }

    proptest! {
        /// Whatever the order of announcements, duplicates, gaps, events announced by seq
        /// only, short and failed reads: every seq after the starting head is handed out
        /// exactly once, in order, and once everything announced has been read nothing
        /// announced is left behind.
        #[test]
        fn every_seq_once_in_order(start in 0u64..5, last in 1u64..40, ops in ops(40), ring in 0usize..6) {
            let log: Vec<u64> = (1..=start + last).collect();
            let mut s = Sequencer::new(ring);
            let mut out = Vec::new();
            let mut read: Option<u64> = None;
            let take = |next: Next<u64>, out: &mut Vec<u64>, read: &mut Option<u64>| {
                out.extend(next.deliver);
                if let Some(after) = next.read_after {
                    prop_assert!(read.is_none(), "a second read while one is out");
                    *read = Some(after);
                }
                Ok(())
            };
            let next = s.learn_head(start);
            take(next, &mut out, &mut read)?;
            let mut announced = start;
            for op in ops {
                let next = match op {
                    Op::Announce { seq, with_event } => {
                        let seq = (start + seq).min(start + last);
                        announced = announced.max(seq);
                        s.announce(seq, with_event.then_some(seq))
                    }
                    Op::AnswerRead { batch } => match read.take() {
                        // The log holds what was committed: up to the highest seq announced.
                        Some(after) => {
                            let frames: Vec<u64> = log.iter().copied().filter(|&q| q > after && q <= announced).take(batch).collect();
                            let full = frames.len() == batch;
                            s.read(frames, full)
                        }
                        None => continue,
                    },
                    Op::FailRead => match read.take() {
                        Some(_) => {
                            s.read_failed();
                            s.resync()
                        }
                        None => continue,
                    },
                };
                take(next, &mut out, &mut read)?;
            }
            // Answer every read still asked for, in full: a few at most, never endlessly.
            for _ in 0..10 {
                let Some(after) = read.take() else { break };
                let frames: Vec<u64> = log.iter().copied().filter(|&q| q > after && q <= announced).collect();
                let next = s.read(frames, false);
                take(next, &mut out, &mut read)?;
            }
            prop_assert!(read.is_none(), "the sequencer keeps asking for reads");
            let expected: Vec<u64> = (start + 1..=announced).collect();
            prop_assert_eq!(out, expected);
            prop_assert_eq!(s.head(), Some(announced));
            // A subscriber attaching anywhere gets the rest exactly, from the ring or the log.
            for after in start..=announced {
                match s.catch_up(after) {
                    CatchUp::Ring(events) => prop_assert_eq!(events, (after + 1..=announced).collect::<Vec<_>>()),
                    CatchUp::Log { after: from } => prop_assert_eq!(from, after),
                }
            }
        }
    }
}
