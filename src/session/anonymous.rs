//! Sockets that have not yet said hello, counted per client address: each costs a
//! session and a read buffer before anyone is known, so one address may hold only so
//! many at once (the rest are refused at the upgrade with 429). IPv6 clients are counted
//! by their /64, the block one subscriber is usually given.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The node's count of sockets not yet authenticated, by address.
#[derive(Debug)]
pub struct Anonymous {
    per_address: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One anonymous socket's place in the count, given back when dropped (at hello, or
/// when the socket ends without one).
#[derive(Debug)]
pub struct Admission {
    of: Arc<Anonymous>,
    address: IpAddr,
}

impl Anonymous {
    /// Counts that let each address hold `per_address` anonymous sockets.
    pub fn new(per_address: usize) -> Arc<Self> {
        Arc::new(Anonymous {
            per_address,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more socket from `address`, or `None` when it holds its share.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Admission> {
        let address = block(address);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let held = counts.entry(address).or_insert(0);
        if *held >= self.per_address {
            return None;
        }
        *held += 1;
        Some(Admission {
            of: self.clone(),
            address,
        })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut counts = self
            .of
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = counts.get_mut(&self.address) {
            *held -= 1;
            if *held == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// The key an address is counted under: IPv4 as it is (also when mapped into IPv6),
/// IPv6 by its /64.
fn block(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_its_share_and_gets_places_back_as_sockets_say_hello() {
        let anonymous = Anonymous::new(2);
        let one: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        let first = anonymous.admit(one).unwrap();
        let _second = anonymous.admit(one).unwrap();
        assert!(anonymous.admit(one).is_none());
        assert!(
            anonymous.admit(other).is_some(),
            "another address is counted apart"
        );
        drop(first);
        let third = anonymous.admit(one);
        assert!(third.is_some(), "a place given back is taken again");
        assert!(anonymous.admit(one).is_none());
    }

    #[test]
    fn ipv6_is_counted_by_its_64_block_and_mapped_ipv4_as_ipv4() {
        let anonymous = Anonymous::new(1);
        let _a = anonymous.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(anonymous
            .admit("2001:db8:1:2:ffff::9".parse().unwrap())
            .is_none());
        assert!(anonymous
            .admit("2001:db8:1:3::1".parse().unwrap())
            .is_some());
        let _v4 = anonymous.admit("198.51.100.1".parse().unwrap()).unwrap();
        assert!(anonymous
            .admit("::ffff:198.51.100.1".parse().unwrap())
            .is_none());
    }
}
