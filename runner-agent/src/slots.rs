//! Per-runner job slots: the `limit` ceiling, the `CI_CONCURRENT_ID` numbers and the
//! per-project `CI_CONCURRENT_PROJECT_ID` numbers (upstream-details.md §2).
//!
//! They outlive a config reload so that jobs started before the reload still count
//! against the runner's limit and keep their numbers. The project number shapes the
//! project directory (`<builds>/<short token>/<project number>/<path>`), so two running
//! jobs of one project never share a directory.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use crate::limiter::{Limiter, Permit};

/// The capacity of one runner entry (one token).
#[derive(Debug, Clone)]
pub(crate) struct RunnerSlots {
    limit: Limiter,
    numbers: Arc<Mutex<Numbers>>,
}

/// The numbers in use, under one lock so that two jobs taken at the same moment never get
/// the same one.
#[derive(Debug, Default)]
struct Numbers {
    /// `CI_CONCURRENT_ID`s held by running jobs (and by pending requests).
    concurrent: BTreeSet<u32>,
    /// Per project id: the `CI_CONCURRENT_PROJECT_ID`s held by its running jobs.
    projects: HashMap<i64, BTreeSet<u32>>,
}

/// A job's hold on its runner: a unit of `limit` and its numbers, all returned on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: Permit,
    id: u32,
    project: Option<(i64, u32)>,
    numbers: Arc<Mutex<Numbers>>,
}

impl RunnerSlots {
    /// Slots for a runner with this `limit` (0 = unlimited).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: Limiter::new(limit),
            numbers: Arc::default(),
        }
    }

    /// Applies a changed `limit`.
    pub(crate) fn resize(&self, limit: usize) {
        self.limit.resize(limit);
    }

    /// Waits for a free unit of `limit`, then takes the lowest free slot number.
    pub(crate) async fn acquire(&self) -> Slot {
        let permit = self.limit.acquire().await;
        let id = lowest_free(&mut self.lock().concurrent);
        Slot {
            _permit: permit,
            id,
            project: None,
            numbers: Arc::clone(&self.numbers),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Numbers> {
        self.numbers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Slot {
    /// `CI_CONCURRENT_ID` of the job holding this slot.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Takes the lowest `CI_CONCURRENT_PROJECT_ID` free among this runner's running jobs of
    /// `project_id`, once a job was received; held until the slot is dropped.
    pub(crate) fn join_project(&mut self, project_id: i64) -> u32 {
        let mut numbers = self.numbers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((previous, number)) = self.project.take() {
            release_project(&mut numbers, previous, number);
        }
        let number = lowest_free(numbers.projects.entry(project_id).or_default());
        self.project = Some((project_id, number));
        number
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut numbers = self.numbers.lock().unwrap_or_else(PoisonError::into_inner);
        numbers.concurrent.remove(&self.id);
        if let Some((project_id, number)) = self.project.take() {
            release_project(&mut numbers, project_id, number);
        }
    }
}

/// Inserts and returns the lowest number not in `used`.
fn lowest_free(used: &mut BTreeSet<u32>) -> u32 {
    let number = (0..)
        .find(|candidate| !used.contains(candidate))
        .unwrap_or(0);
    used.insert(number);
    number
}

fn release_project(numbers: &mut Numbers, project_id: i64, number: u32) {
    if let Some(used) = numbers.projects.get_mut(&project_id) {
        used.remove(&number);
        if used.is_empty() {
            numbers.projects.remove(&project_id);
        }
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

    /// upstream-details.md §2.5, vectors 1 and 2.
    #[tokio::test]
    async fn project_numbers_count_per_project() {
        let slots = RunnerSlots::new(0);
        let mut a = slots.acquire().await;
        let mut b = slots.acquire().await;
        let mut c = slots.acquire().await;
        assert_eq!((a.id(), a.join_project(1)), (0, 0));
        assert_eq!((b.id(), b.join_project(1)), (1, 1));
        assert_eq!((c.id(), c.join_project(2)), (2, 0));
        drop(a);
        let mut d = slots.acquire().await;
        assert_eq!((d.id(), d.join_project(1)), (0, 0));
        drop((b, c, d));
        assert!(
            slots.lock().projects.is_empty(),
            "released numbers are forgotten"
        );
    }

    /// Vector 3: each token has its own numbers.
    #[tokio::test]
    async fn runners_number_their_jobs_separately() {
        let (first, second) = (RunnerSlots::new(0), RunnerSlots::new(0));
        let (mut one, mut two) = (first.acquire().await, second.acquire().await);
        assert_eq!((one.join_project(1), two.join_project(1)), (0, 0));
        assert_eq!((one.id(), two.id()), (0, 0));
    }
}
