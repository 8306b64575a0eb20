//! Training batches assembled on a thread beside the training step.
//!
//! Cropping, augmenting and normalising the next batch is plain CPU work on
//! data in memory; the training step is tensor work. A loader thread does
//! the first while the training thread does the second, a bounded channel
//! between them (Burn's own `DataLoader` does the same with its workers).
//!
//! The loader owns the epoch's random generator while it runs and hands it
//! back when the epoch ends, so it draws exactly what the training loop
//! drew in line before: the same command trains the same network, and a
//! shipped card's command still reproduces its weights.

use std::sync::mpsc::{self, Receiver};
use std::thread::{Scope, ScopedJoinHandle};

use rand::rngs::SmallRng;

use super::data::{Augment, BatchData, MelBatcher, MelDataset};
use super::training::Mixup;

/// Batches assembled ahead of the one training: enough to hide one slow
/// batch, few enough to keep the memory small.
const AHEAD: usize = 2;

/// One training batch as the loader hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedBatch {
    /// Indices into the training set, in the batch's order.
    pub indices: Vec<usize>,
    pub data: BatchData,
    /// The batch's mixup, drawn after its inputs (as the loop drew it).
    pub mixup: Option<Mixup>,
}

/// What one epoch's loader does.
#[derive(Debug, Clone, Copy)]
pub struct EpochLoad<'a> {
    pub dataset: &'a MelDataset,
    pub batcher: &'a MelBatcher,
    /// The epoch's inputs, in order.
    pub order: &'a [usize],
    pub batch_size: usize,
    pub augment: Option<&'a Augment>,
    pub mixup: bool,
}

/// A running loader: the batches as they come, and the generator back once
/// the epoch is done.
pub struct Loader<'scope> {
    batches: Receiver<LoadedBatch>,
    handle: ScopedJoinHandle<'scope, SmallRng>,
}

impl<'a> EpochLoad<'a> {
    /// Starts the epoch's loader in `scope`, drawing from `rng`.
    pub fn start<'scope>(self, scope: &'scope Scope<'scope, '_>, mut rng: SmallRng) -> Loader<'scope>
    where
        'a: 'scope,
    {
        let (sender, batches) = mpsc::sync_channel(AHEAD);
        let handle = scope.spawn(move || {
            for chunk in self.order.chunks(self.batch_size.max(1)) {
                let batch = self.assemble(chunk, &mut rng);
                // The training loop stops taking batches when it runs out of
                // steps; the loader then stops too.
                if sender.send(batch).is_err() {
                    break;
                }
            }
            rng
        });
        Loader { batches, handle }
    }

    /// One batch, drawn as the training loop draws it in line: the inputs'
    /// augmentation, then the mixup.
    pub fn assemble(&self, chunk: &[usize], rng: &mut SmallRng) -> LoadedBatch {
        let data = self.batcher.batch_data(self.dataset, chunk, self.augment.map(|a| (a, &mut *rng)));
        let mixup = self.mixup.then(|| Mixup::draw(chunk.len(), rng));
        LoadedBatch { indices: chunk.to_vec(), data, mixup }
    }
}

impl Loader<'_> {
    /// The next batch, or `None` after the epoch's last.
    pub fn next_batch(&self) -> Option<LoadedBatch> {
        self.batches.recv().ok()
    }

    /// Stops the loader (if the epoch ended early) and returns its
    /// generator. A panic on the loader thread is raised again here.
    pub fn finish(self) -> SmallRng {
        drop(self.batches);
        match self.handle.join() {
            Ok(rng) => rng,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::data::MelExample;
    use crate::model::features::LogMel;
    use rand::{Rng, SeedableRng};

    fn dataset(n: usize) -> MelDataset {
        let mut rng = SmallRng::seed_from_u64(7);
        let examples = (0..n)
            .map(|i| {
                let frames = 10 + i % 30;
                let data = (0..4 * frames).map(|_| rng.random_range(-80.0f32..0.0)).collect();
                MelExample { mel: LogMel { n_mels: 4, data }, label: i % 3, auxiliary: None }
            })
            .collect();
        MelDataset { examples }
    }

    fn batcher() -> MelBatcher {
        MelBatcher { n_mels: 4, frames: 20, mean: -40.0, std: 20.0, per_example: true, per_band: false }
    }

    #[test]
    fn the_loader_thread_hands_over_the_batches_and_generator_the_loop_drew_in_line() {
        let (set, batcher, augment) = (dataset(23), batcher(), Augment::default());
        let order: Vec<usize> = (0..23).rev().collect();
        let load = EpochLoad { dataset: &set, batcher: &batcher, order: &order, batch_size: 5, augment: Some(&augment), mixup: true };

        let mut in_line_rng = SmallRng::seed_from_u64(3);
        let in_line: Vec<LoadedBatch> = order.chunks(5).map(|c| load.assemble(c, &mut in_line_rng)).collect();

        let (loaded, rng) = std::thread::scope(|scope| {
            let loader = load.start(scope, SmallRng::seed_from_u64(3));
            let loaded: Vec<LoadedBatch> = std::iter::from_fn(|| loader.next_batch()).collect();
            (loaded, loader.finish())
        });
        assert_eq!(loaded.len(), 5, "23 inputs in batches of 5");
        assert_eq!(loaded.last().map(|b| b.indices.len()), Some(3));
        assert_eq!(loaded, in_line);
        assert!(loaded.iter().all(|b| b.mixup.is_some()));
        // The next epoch goes on drawing where the in-line loop would.
        let (mut a, mut b) = (rng, in_line_rng);
        assert_eq!(a.random::<u64>(), b.random::<u64>());
    }

    #[test]
    fn a_loop_that_stops_early_stops_its_loader() {
        let (set, batcher) = (dataset(200), batcher());
        let order: Vec<usize> = (0..200).collect();
        let load = EpochLoad { dataset: &set, batcher: &batcher, order: &order, batch_size: 2, augment: None, mixup: false };
        let first = std::thread::scope(|scope| {
            let loader = load.start(scope, SmallRng::seed_from_u64(1));
            let first = loader.next_batch();
            // Returns, rather than waiting on a loader blocked on a full channel.
            loader.finish();
            first
        });
        let first = first.expect("a first batch");
        assert_eq!(first.indices, vec![0, 1]);
        assert_eq!(first.data.labels, vec![0, 1]);
        assert_eq!(first.data.inputs.len(), 2 * 4 * 20);
    }

    #[test]
    fn a_panic_on_the_loader_thread_reaches_the_training_thread() {
        let (set, batcher) = (dataset(3), batcher());
        // Index 9 is past the end of a set of 3.
        let order = vec![0, 9];
        let load = EpochLoad { dataset: &set, batcher: &batcher, order: &order, batch_size: 2, augment: None, mixup: false };
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::thread::scope(|scope| {
                let loader = load.start(scope, SmallRng::seed_from_u64(1));
                assert!(loader.next_batch().is_none(), "the loader died before its first batch");
                loader.finish();
            })
        }));
        assert!(caught.is_err());
    }
}
