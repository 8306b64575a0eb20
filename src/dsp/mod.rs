//! Signal processing for analysis: STFT, mel filterbanks, dB, Kaldi fbank.
//!
//! Conformance with librosa 0.11 is tested against fixtures made by
//! `scripts/make_mel_fixtures.py` (tests/mel_conformance.rs).

pub mod db;
pub mod extractor;
pub mod fbank;
pub mod mel;
pub mod stft;
pub mod window;

pub use db::{power_to_db, DbRef};
pub use extractor::{MelConfig, MelConfigError, MelExtractor, MelFrame, MelSpectrogram, StreamingMel};
pub use fbank::{kaldi_fbank, KaldiFbankConfig, KaldiWindow};
pub use mel::{MelFilterbank, MelScale};
pub use stft::PadMode;
