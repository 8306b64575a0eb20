//! The processing chain: plugins run in order on blocks of mono audio.
//!
//! Fault containment: a plugin that returns an error, panics, or writes a
//! non-finite sample is bypassed from that block on (its input passes
//! through unchanged), and the slot records why. The stream never stops for
//! a plugin. [`Chain::clear_fault`] resets the plugin and lets it run again;
//! a slot with a restart policy ([`Chain::set_restart`]) gets a fresh
//! instance by itself after a back-off that doubles with each fault in a row
//! (a fresh instance also gives back whatever memory the old one held).
//!
//! The input slice is never written: what is recorded is what came in.
//!
//! `process` does not allocate, lock or do I/O, so it can run on the audio
//! thread; everything is sized in [`Chain::new`]. The one exception is the
//! automatic restart of a faulted plugin, which creates an instance.

use std::time::Instant;

use auscult_plugin_api::abi::ErrorBuf;
use auscult_plugin_api::{Event, EventKind, Status};

use super::abi::PluginInfo;
use super::instance::{CallError, PluginInstance};

/// Events one plugin may report per block before the rest are counted as
/// dropped.
pub const EVENTS_PER_BLOCK: usize = 64;

/// Why a slot is bypassed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The plugin returned an error status.
    Error,
    /// The plugin panicked (caught by its shim).
    Panicked,
    /// The plugin wrote NaN or an infinity.
    NonFinite,
}

/// A fault, stored without allocating (the message is copied into a fixed
/// buffer) because it happens on the audio thread.
pub struct Fault {
    pub kind: FaultKind,
    /// Absolute sample index of the first frame of the faulty block.
    pub at_sample: u64,
    message: ErrorBuf,
}

impl Fault {
    pub fn message(&self) -> &str {
        self.message.message()
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            FaultKind::Error => "error",
            FaultKind::Panicked => "panic",
            FaultKind::NonFinite => "non-finite output",
        };
        write!(f, "{what} at sample {}", self.at_sample)?;
        match self.message() {
            "" => Ok(()),
            m => write!(f, ": {m}"),
        }
    }
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fault({self})")
    }
}

/// CPU time spent in one plugin.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SlotStats {
    pub blocks: u64,
    pub frames: u64,
    pub total_ns: u64,
    pub last_ns: u64,
    pub max_ns: u64,
    /// Events the plugin found that did not fit the event buffer.
    pub dropped_events: u64,
    /// How many times the plugin has faulted.
    pub faults: u64,
    /// Blocks that took longer than the audio they hold.
    pub late_blocks: u64,
    /// Fresh instances made after faults.
    pub restarts: u64,
}

impl SlotStats {
    /// CPU time as a fraction of the audio's duration (the real-time factor).
    pub fn real_time_factor(&self, sample_rate: f64) -> f64 {
        if self.frames == 0 {
            return 0.0;
        }
        (self.total_ns as f64 * 1e-9) / (self.frames as f64 / sample_rate)
    }
}

/// One plugin in the chain.
pub struct Slot {
    /// The name the chain file used, e.g. `bandpass`.
    pub name: String,
    instance: PluginInstance,
    bypass: bool,
    fault: Option<Fault>,
    stats: SlotStats,
    events: Vec<Event>,
    /// The parameter values the host set, re-applied on restart.
    params: Vec<(u32, f64)>,
    restart: Option<Restart>,
}

/// When to give a faulted plugin a fresh instance.
#[derive(Debug, Clone, Copy)]
struct Restart {
    /// Samples to wait after the first fault.
    after: u64,
    /// Faults since the plugin last ran a minute without one: the wait
    /// doubles with each, up to 64 times `after`.
    in_a_row: u32,
    /// Where the current instance started running.
    since: u64,
}

impl Slot {
    pub fn info(&self) -> &PluginInfo {
        self.instance.info()
    }
    /// The library a native plugin was loaded from.
    pub fn library_path(&self) -> Option<&std::path::Path> {
        self.instance.library().map(|l| l.path())
    }
    pub fn bypassed(&self) -> bool {
        self.bypass
    }
    pub fn fault(&self) -> Option<&Fault> {
        self.fault.as_ref()
    }
    pub fn stats(&self) -> &SlotStats {
        &self.stats
    }
    pub fn latency(&self) -> u32 {
        self.instance.latency()
    }
    /// Runs in this block: neither bypassed by the user nor faulted.
    pub fn active(&self) -> bool {
        !self.bypass && self.fault.is_none()
    }
}

/// An event, placed on the timeline of the chain's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainEvent {
    /// Absolute sample index in the input stream.
    pub sample: u64,
    pub kind: EventKind,
    pub value: f32,
    /// Index of the slot that reported it.
    pub slot: usize,
}

/// Where one plugin's events land on the chain's input timeline: `at` is
/// the input frame its offsets count from, less the latency of the
/// plugins before it.
struct Placed {
    at: u64,
    upstream_latency: u64,
    slot: usize,
}

impl Placed {
    /// Appends `reported` to `events` while it has spare capacity (never
    /// allocating); returns how many did not fit. Unknown kinds are skipped.
    fn append(&self, reported: &[Event], events: &mut Vec<ChainEvent>) -> u64 {
        let mut dropped = 0;
        for e in reported {
            let Some(kind) = EventKind::from_raw(e.kind) else { continue };
            if events.len() == events.capacity() {
                dropped += 1;
                continue;
            }
            let sample = (self.at as i64 + e.offset - self.upstream_latency as i64).max(0) as u64;
            events.push(ChainEvent { sample, kind, value: e.value, slot: self.slot });
        }
        dropped
    }
}

/// Pairs a segmenter's `cycle_start` and `cycle_end` events into cycles,
/// across blocks. An end with no open start is ignored.
#[derive(Debug, Default, Clone, Copy)]
pub struct CycleTracker {
    open: Option<u64>,
}

impl CycleTracker {
    /// The cycle `(start, end)` (input sample indices) this event closes.
    pub fn push(&mut self, event: &ChainEvent) -> Option<(u64, u64)> {
        match event.kind {
            EventKind::CycleStart => {
                self.open = Some(event.sample);
                None
            }
            EventKind::CycleEnd => self.open.take().map(|start| (start, event.sample)),
            _ => None,
        }
    }
}

impl Slot {
    /// A minute of audio without a fault forgives the faults before it.
    const FORGIVE_S: f64 = 60.0;

    fn restart_if_due(&mut self, now: u64, rate: f64, max_block: usize) {
        let Some(restart) = self.restart.as_mut() else { return };
        let Some(fault) = &self.fault else {
            if restart.in_a_row > 0 && now.saturating_sub(restart.since) as f64 >= Self::FORGIVE_S * rate {
                restart.in_a_row = 0;
            }
            return;
        };
        let wait = restart.after << restart.in_a_row.min(6);
        if self.bypass || now < fault.at_sample + wait {
            return;
        }
        restart.in_a_row += 1;
        restart.since = now;
        // A native plugin gets a new instance (dropping the old one frees
        // what it held); a LADSPA one, which the chain cannot re-create,
        // is reset.
        let fresh = match self.instance.library() {
            Some(library) => PluginInstance::new(library.clone(), rate, max_block).map(Some),
            None => self.instance.reset().map(|()| None),
        };
        let result = fresh.and_then(|fresh| {
            if let Some(instance) = fresh {
                self.instance = instance;
            }
            self.params.iter().try_for_each(|&(id, v)| self.instance.set_param(id, v))
        });
        match result {
            Ok(()) => {
                self.fault = None;
                self.stats.restarts += 1;
            }
            Err(e) => {
                let mut message = ErrorBuf::default();
                message.write(&format!("restart failed: {}", e.message));
                self.stats.faults += 1;
                self.fault = Some(Fault { kind: FaultKind::Error, at_sample: now, message });
            }
        }
    }
}

fn no_slot(slot: usize) -> CallError {
    CallError { plugin: format!("slot {slot}"), status: Status::InvalidArgument, message: "no such slot".into() }
}

/// Plugins in order, with the buffers they run in.
pub struct Chain {
    slots: Vec<Slot>,
    sample_rate: f64,
    max_block: usize,
    /// Two ping-pong buffers of `max_block` frames each.
    scratch: Vec<f32>,
    /// Absolute index of the next input frame.
    position: u64,
    dropped_events: u64,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("plugins", &self.slots.iter().map(|s| s.name.as_str()).collect::<Vec<_>>())
            .field("sample_rate", &self.sample_rate)
            .field("max_block", &self.max_block)
            .finish()
    }
}

impl Chain {
    pub fn new(sample_rate: f64, max_block: usize) -> Chain {
        let max_block = max_block.max(1);
        Chain { slots: Vec::new(), sample_rate, max_block, scratch: vec![0.0; 2 * max_block], position: 0, dropped_events: 0 }
    }

    /// Appends an instance created at this chain's rate and block size.
    pub fn push(&mut self, name: impl Into<String>, mut instance: PluginInstance, bypass: bool) {
        let ids: Vec<u32> = instance.info().params.iter().map(|p| p.id).collect();
        let params = ids.into_iter().filter_map(|id| instance.get_param(id).ok().map(|v| (id, v))).collect();
        self.slots.push(Slot {
            name: name.into(),
            instance,
            bypass,
            fault: None,
            stats: SlotStats::default(),
            events: vec![Event::default(); EVENTS_PER_BLOCK],
            params,
            restart: None,
        });
    }

    /// Restart `slot` by itself `after_s` seconds (of audio) after a
    /// fault, doubling the wait for each fault in a row; `None` leaves a
    /// faulted plugin bypassed until [`clear_fault`](Self::clear_fault).
    pub fn set_restart(&mut self, slot: usize, after_s: Option<f64>) {
        let rate = self.sample_rate;
        if let Some(s) = self.slots.get_mut(slot) {
            s.restart = after_s.map(|a| Restart { after: (a * rate).round().max(1.0) as u64, in_a_row: 0, since: 0 });
        }
    }

    /// The chain as it runs now, as a chain file: order, bypass, and every
    /// parameter the host has set (a session records this after each live
    /// edit). Loading it builds the same chain.
    pub fn to_chain_file(&self) -> String {
        let mut entries = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let mut entry = toml::Table::new();
            entry.insert("plugin".into(), slot.name.clone().into());
            let mut params = toml::Table::new();
            for &(id, value) in &slot.params {
                if let Some(info) = slot.info().params.iter().find(|p| p.id == id) {
                    params.insert(info.name.clone(), value.into());
                }
            }
            if !params.is_empty() {
                entry.insert("params".into(), params.into());
            }
            entry.insert("bypass".into(), slot.bypass.into());
            if let Some(restart) = slot.restart {
                entry.insert("restart_after_s".into(), (restart.after as f64 / self.sample_rate).into());
            }
            entries.push(toml::Value::Table(entry));
        }
        let mut file = toml::Table::new();
        file.insert("chain".into(), entries.into());
        toml::to_string(&file).unwrap_or_default()
    }

    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }
    pub fn max_block(&self) -> usize {
        self.max_block
    }
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }
    pub fn len(&self) -> usize {
        self.slots.len()
    }
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
    /// Events that did not fit the caller's event vector.
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events
    }
    /// Absolute index of the next input frame.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Total latency of the plugins that currently run, in samples.
    pub fn latency(&self) -> u64 {
        self.slots.iter().filter(|s| s.active()).map(|s| u64::from(s.latency())).sum()
    }

    pub fn set_bypass(&mut self, slot: usize, bypass: bool) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.bypass = bypass;
        }
    }

    /// Moves a slot from `from` to `to`, shifting the ones between.
    pub fn move_slot(&mut self, from: usize, to: usize) {
        if from < self.slots.len() && to < self.slots.len() {
            let slot = self.slots.remove(from);
            self.slots.insert(to, slot);
        }
    }

    pub fn set_param(&mut self, slot: usize, id: u32, value: f64) -> Result<(), CallError> {
        match self.slots.get_mut(slot) {
            Some(s) => {
                s.instance.set_param(id, value)?;
                match s.params.iter_mut().find(|(p, _)| *p == id) {
                    Some(entry) => entry.1 = value,
                    None => s.params.push((id, value)),
                }
                Ok(())
            }
            None => Err(no_slot(slot)),
        }
    }

    /// Sets a parameter, or, when the plugin refuses `value`, the nearest
    /// value toward it that the plugin accepts (a limit that depends on
    /// the rate or on another parameter, such as a high edge below
    /// Nyquist). Returns the value now set and the refusal, when there was
    /// one; an error only when no value toward `value` is accepted.
    pub fn set_param_toward(&mut self, slot: usize, id: u32, value: f64) -> Result<(f64, Option<CallError>), CallError> {
        let refusal = match self.set_param(slot, id, value) {
            Ok(()) => return Ok((value, None)),
            Err(e) => e,
        };
        let Ok(from) = self.get_param(slot, id) else { return Err(refusal) };
        // Bisection between the value in force (accepted) and the one asked
        // for (refused); a refused call changes nothing in the plugin.
        let (mut good, mut bad) = (from, value);
        for _ in 0..40 {
            let mid = 0.5 * (good + bad);
            if mid == good || mid == bad {
                break;
            }
            if self.set_param(slot, id, mid).is_ok() {
                good = mid;
            } else {
                bad = mid;
            }
        }
        if good == from {
            return Err(refusal);
        }
        self.set_param(slot, id, good)?;
        Ok((good, Some(refusal)))
    }

    pub fn get_param(&mut self, slot: usize, id: u32) -> Result<f64, CallError> {
        match self.slots.get_mut(slot) {
            Some(s) => s.instance.get_param(id),
            None => Err(no_slot(slot)),
        }
    }

    /// Resets a faulted plugin and lets it run again.
    pub fn clear_fault(&mut self, slot: usize) -> Result<(), CallError> {
        match self.slots.get_mut(slot) {
            Some(s) => {
                s.instance.reset()?;
                s.fault = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Resets every plugin's signal state and the stream position.
    pub fn reset(&mut self) -> Result<(), CallError> {
        for s in &mut self.slots {
            s.instance.reset()?;
        }
        self.position = 0;
        Ok(())
    }

    /// Runs a whole signal through the chain offline, a block of
    /// `max_block` frames at a time, and returns the output and every
    /// event: the event vector grows between blocks, which offline (not on
    /// the audio thread) is allowed.
    pub fn process_offline(&mut self, input: &[f32]) -> (Vec<f32>, Vec<ChainEvent>) {
        let block = self.max_block.max(1);
        let mut output = vec![0.0f32; input.len()];
        let mut events = Vec::with_capacity(4096);
        for (i, o) in input.chunks(block).zip(output.chunks_mut(block)) {
            events.reserve(self.len() * EVENTS_PER_BLOCK);
            self.process(i, o, &mut events);
        }
        // The signal is the whole stream: what the plugins held back for
        // later audio is theirs to report now.
        events.reserve(self.len() * EVENTS_PER_BLOCK);
        self.flush(&mut events);
        (output, events)
    }

    /// Ends the stream: each running plugin reports the events it held back
    /// for audio that will not come (the end-of-stream extension, see
    /// [`PluginInstance::flush`]), placed on the input's timeline as
    /// `process` places them, and starts over; the position returns to 0,
    /// as after [`reset`](Self::reset). A plugin that fails here faults as
    /// in `process`, its events discarded. Never allocates when `events`
    /// has spare capacity.
    pub fn flush(&mut self, events: &mut Vec<ChainEvent>) {
        let end = self.position;
        let mut upstream_latency: u64 = 0;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if !slot.active() {
                continue;
            }
            let (mut count, mut dropped) = (0, 0);
            let status = slot.instance.flush(&mut slot.events, &mut count, &mut dropped);
            slot.stats.dropped_events += u64::from(dropped);
            let kind = match status {
                Status::Ok => None,
                Status::Panicked => Some(FaultKind::Panicked),
                Status::Error | Status::InvalidArgument => Some(FaultKind::Error),
            };
            if let Some(kind) = kind {
                let message = ErrorBuf { bytes: slot.instance.last_error().bytes };
                slot.stats.faults += 1;
                slot.fault = Some(Fault { kind, at_sample: end, message });
                continue;
            }
            let placed = Placed { at: end, upstream_latency, slot: index };
            self.dropped_events += placed.append(&slot.events[..count], events);
            upstream_latency += u64::from(slot.instance.latency());
        }
        self.position = 0;
    }

    /// Runs the chain over `input` (any length), writing `output` (same
    /// length) and appending events to `events` while it has spare
    /// capacity; events beyond it are counted in
    /// [`dropped_events`](Self::dropped_events). Never allocates when
    /// `events` has spare capacity.
    pub fn process(&mut self, input: &[f32], output: &mut [f32], events: &mut Vec<ChainEvent>) {
        assert_eq!(input.len(), output.len(), "chain input and output lengths differ");
        for (inp, out) in input.chunks(self.max_block).zip(output.chunks_mut(self.max_block)) {
            self.process_block(inp, out, events);
        }
    }

    fn process_block(&mut self, input: &[f32], output: &mut [f32], events: &mut Vec<ChainEvent>) {
        let n = input.len();
        let block_start = self.position;
        let (buf_a, buf_b) = self.scratch.split_at_mut(self.max_block);
        let (buf_a, buf_b) = (&mut buf_a[..n], &mut buf_b[..n]);
        // Where the current signal lives: the caller's input, or scratch A/B.
        #[derive(Clone, Copy)]
        enum At {
            Input,
            A,
            B,
        }
        let mut current = At::Input;
        // Events are reported on each plugin's input timeline; the plugins
        // before it delay that timeline by their latency.
        let mut upstream_latency: u64 = 0;
        let deadline_ns = (n as f64 / self.sample_rate * 1e9) as u64;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            slot.restart_if_due(block_start, self.sample_rate, self.max_block);
            if !slot.active() {
                continue;
            }
            let (src, dst): (&[f32], &mut [f32]) = match current {
                At::Input => (input, &mut *buf_a),
                At::A => (&*buf_a, &mut *buf_b),
                At::B => (&*buf_b, &mut *buf_a),
            };
            let mut count = 0;
            let mut dropped = 0;
            let started = Instant::now();
            let status = slot.instance.process(src, dst, &mut slot.events, &mut count, &mut dropped);
            let elapsed = started.elapsed().as_nanos() as u64;
            let stats = &mut slot.stats;
            stats.blocks += 1;
            stats.frames += n as u64;
            stats.total_ns += elapsed;
            stats.last_ns = elapsed;
            stats.max_ns = stats.max_ns.max(elapsed);
            if elapsed > deadline_ns {
                stats.late_blocks += 1;
            }
            stats.dropped_events += u64::from(dropped);

            let fault = match status {
                Status::Ok if dst.iter().all(|x| x.is_finite()) => None,
                Status::Ok => Some(FaultKind::NonFinite),
                Status::Panicked => Some(FaultKind::Panicked),
                Status::Error | Status::InvalidArgument => Some(FaultKind::Error),
            };
            if let Some(kind) = fault {
                // Bypass: the signal stays where it was, as if the plugin
                // were not there; its events for this block are discarded.
                let mut message = ErrorBuf::default();
                if kind != FaultKind::NonFinite {
                    message.bytes = slot.instance.last_error().bytes;
                }
                stats.faults += 1;
                slot.fault = Some(Fault { kind, at_sample: block_start, message });
                continue;
            }
            let placed = Placed { at: block_start, upstream_latency, slot: index };
            self.dropped_events += placed.append(&slot.events[..count], events);
            upstream_latency += u64::from(slot.instance.latency());
            current = match current {
                At::Input | At::B => At::A,
                At::A => At::B,
            };
        }
        output.copy_from_slice(match current {
            At::Input => input,
            At::A => buf_a,
            At::B => buf_b,
        });
        self.position += n as u64;
    }
}
