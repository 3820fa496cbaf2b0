//! Per-runner job slots: the `limit` ceiling and the `CI_CONCURRENT_ID` numbers.
//!
//! They outlive a config reload so that jobs started before the reload still count
//! against the runner's limit and keep their slot number.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::limiter::{Limiter, Permit};

/// The capacity of one runner entry.
#[derive(Debug, Clone)]
pub(crate) struct RunnerSlots {
    limit: Limiter,
    ids: Arc<Mutex<BTreeSet<u32>>>,
}

/// A job's hold on its runner: a unit of `limit` and a slot number, both returned on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: Permit,
    id: u32,
    ids: Arc<Mutex<BTreeSet<u32>>>,
}

impl RunnerSlots {
    /// Slots for a runner with this `limit` (0 = unlimited).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: Limiter::new(limit),
            ids: Arc::default(),
        }
    }

    /// Applies a changed `limit`.
    pub(crate) fn resize(&self, limit: usize) {
        self.limit.resize(limit);
    }

    /// Waits for a free unit of `limit`, then takes the lowest free slot number.
    pub(crate) async fn acquire(&self) -> Slot {
        let permit = self.limit.acquire().await;
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        let id = (0..)
            .find(|candidate| !ids.contains(candidate))
            .unwrap_or(0);
        ids.insert(id);
        Slot {
            _permit: permit,
            id,
            ids: Arc::clone(&self.ids),
        }
    }
}

impl Slot {
    /// `CI_CONCURRENT_ID` of the job holding this slot.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slot_numbers_are_the_lowest_free_ones() {
        let slots = RunnerSlots::new(0);
        let first = slots.acquire().await;
        let second = slots.acquire().await;
        assert_eq!((first.id(), second.id()), (0, 1));
        drop(first);
        assert_eq!(slots.acquire().await.id(), 0);
    }
}
