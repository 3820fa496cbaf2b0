//! A counting limiter whose capacity can change while permits are held: `concurrent`
//! (and a runner's `limit`) can be edited in `config.toml` while jobs run (F4).
//!
//! tokio's `Semaphore` can grow but not shrink below what is handed out, so a
//! shrink is recorded as debt that returning permits pay off first.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A resizable limiter. Cheap to clone; clones share capacity.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    semaphore: Arc<Semaphore>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    capacity: usize,
    /// Permits to forget as they come back, after a shrink below what was held.
    debt: usize,
}

/// One unit of capacity; returned to the limiter on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    limiter: Limiter,
}

impl Limiter {
    /// A limiter with `capacity` permits. Zero means unlimited (upstream's `limit = 0`).
    pub(crate) fn new(capacity: usize) -> Self {
        let effective = effective(capacity);
        Self {
            inner: Arc::new(Inner {
                semaphore: Arc::new(Semaphore::new(effective)),
                state: Mutex::new(State {
                    capacity: effective,
                    debt: 0,
                }),
            }),
        }
    }

    /// Waits for a permit.
    pub(crate) async fn acquire(&self) -> Permit {
        let permit = Arc::clone(&self.inner.semaphore).acquire_owned().await.ok();
        Permit {
            permit,
            limiter: self.clone(),
        }
    }

    /// Takes a permit if one is free now.
    #[cfg(test)]
    pub(crate) fn try_acquire(&self) -> Option<Permit> {
        let permit = Arc::clone(&self.inner.semaphore).try_acquire_owned().ok()?;
        Some(Permit {
            permit: Some(permit),
            limiter: self.clone(),
        })
    }

    /// Changes the capacity; held permits stay valid.
    pub(crate) fn resize(&self, capacity: usize) {
        let capacity = effective(capacity);
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if capacity > state.capacity {
            let mut grow = capacity - state.capacity;
            let repaid = grow.min(state.debt);
            state.debt -= repaid;
            grow -= repaid;
            self.inner.semaphore.add_permits(grow);
        } else {
            let shrink = state.capacity - capacity;
            let forgotten = self.inner.semaphore.forget_permits(shrink);
            state.debt += shrink - forgotten;
        }
        state.capacity = capacity;
    }

    /// The current capacity.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .capacity
    }

    /// Permits currently handed out.
    pub(crate) fn in_use(&self) -> usize {
        let state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (state.capacity + state.debt).saturating_sub(self.inner.semaphore.available_permits())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut state = self
            .limiter
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if state.debt > 0 {
            state.debt -= 1;
            permit.forget();
        }
    }
}

/// Upstream treats 0 as "no limit"; a very large capacity is the same in practice.
fn effective(capacity: usize) -> usize {
    if capacity == 0 {
        Semaphore::MAX_PERMITS / 2
    } else {
        capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shrinking_below_held_permits_takes_effect_as_they_return() {
        let limiter = Limiter::new(3);
        let a = limiter.acquire().await;
        let b = limiter.acquire().await;
        limiter.resize(1);
        assert!(limiter.try_acquire().is_none());
        drop(a);
        assert!(
            limiter.try_acquire().is_none(),
            "one job still holds the only slot"
        );
        drop(b);
        let c = limiter.try_acquire();
        assert!(c.is_some());
        assert!(limiter.try_acquire().is_none());
        assert_eq!(limiter.in_use(), 1);
    }

    #[tokio::test]
    async fn growing_frees_waiters() {
        let limiter = Limiter::new(1);
        let _held = limiter.acquire().await;
        assert!(limiter.try_acquire().is_none());
        limiter.resize(2);
        assert!(limiter.try_acquire().is_some());
    }

    #[tokio::test]
    async fn growing_after_a_shrink_repays_debt_first() {
        let limiter = Limiter::new(2);
        let a = limiter.acquire().await;
        let b = limiter.acquire().await;
        limiter.resize(1);
        limiter.resize(2);
        drop(a);
        drop(b);
        assert!(limiter.try_acquire().is_some());
        assert!(limiter.try_acquire().is_some());
        assert_eq!(limiter.capacity(), 2);
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = Limiter::new(0);
        let permits: Vec<_> = (0..1000).filter_map(|_| limiter.try_acquire()).collect();
        assert_eq!(permits.len(), 1000);
    }
}
