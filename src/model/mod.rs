//! The CNN classifier, laid out as Burn's own examples are: `model.rs`
//! (Module + Config), `data.rs` (dataset and batcher), `training.rs`,
//! `inference.rs`; plus `loader.rs` (training batches assembled on a
//! thread beside the training step), `features.rs` (recording -> log-mel, through the
//! model's chain), `cache.rs` (those log-mels kept on disk),
//! `checkpoint.rs` (a training run's state after each epoch), `card.rs`
//! (what a shipped model is), `decision.rs` (class offsets tuned on
//! validation patients), `plan.rs` (a whole training run as one value) and
//! `evaluate.rs` (held-out scoring).

pub mod cache;
pub mod card;
pub mod checkpoint;
pub mod data;
pub mod decision;
pub mod evaluate;
pub mod features;
pub mod inference;
pub mod live;
pub mod loader;
#[allow(clippy::module_inception)]
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod tasks;
pub mod training;

/// What the unit tests of several modules share.
#[cfg(test)]
mod test_support {
    /// The backend's generator may be global to the process: tests that
    /// build or train networks side by side would draw from it in turn and
    /// make each other's seeded runs differ, so each holds this while it
    /// draws.
    pub(crate) fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
        GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
