//! The CNN classifier, laid out as Burn's own examples are: `model.rs`
//! (Module + Config), `data.rs` (dataset and batcher), `training.rs`,
//! `inference.rs`; plus `features.rs` (recording -> log-mel, through the
//! model's chain) and `card.rs` (what a shipped model is).

pub mod card;
pub mod data;
pub mod features;
pub mod inference;
pub mod live;
#[allow(clippy::module_inception)]
pub mod model;
pub mod pipeline;
pub mod tasks;
pub mod training;
