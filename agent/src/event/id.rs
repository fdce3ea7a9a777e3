//! Event ids: random (version 4) UUIDs from the kernel's generator, drawn
//! from a per-thread pool filled 32 ids at a time. `Uuid::new_v4` makes
//! one `getrandom(2)` call per id; a log line that changes two states made
//! two system calls on the path from the line to the consumer.

use std::cell::RefCell;

/// Ids per refill.
const POOL: usize = 32;

struct Pool {
    bytes: [u8; 16 * POOL],
    /// Ids left, from the end.
    left: usize,
}

thread_local! {
    static IDS: RefCell<Pool> = const {
        RefCell::new(Pool {
            bytes: [0; 16 * POOL],
            left: 0,
        })
    };
}

/// A new random id.
#[must_use]
pub(super) fn new_id() -> uuid::Uuid {
    IDS.with(|p| {
        let mut p = p.borrow_mut();
        if p.left == 0 {
            if !refill(&mut p.bytes) {
                return uuid::Uuid::new_v4();
            }
            p.left = POOL;
        }
        p.left -= 1;
        let at = p.left * 16;
        let mut id = [0; 16];
        id.copy_from_slice(&p.bytes[at..at + 16]);
        uuid::Builder::from_random_bytes(id).into_uuid()
    })
}

/// Fills `buf` from the kernel (ring's `SystemRandom`: getrandom(2));
/// false if it could not.
fn refill(buf: &mut [u8]) -> bool {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new().fill(buf).is_ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_v4_and_distinct_across_refills() {
        let ids: HashSet<_> = (0..POOL * 3 + 1).map(|_| new_id()).collect();
        assert_eq!(ids.len(), POOL * 3 + 1);
        assert!(ids.iter().all(|i| i.get_version_num() == 4));
        assert!(
            ids.iter()
                .all(|i| i.get_variant() == uuid::Variant::RFC4122)
        );
    }
}
