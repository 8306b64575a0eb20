//! The segmenter measured on real recordings (needs ../shared/data).
//!
//! Lung mode against the ICBHI annotations: cycle-boundary precision, recall
//! and F1 with a ±0.5 s tolerance, beside a baseline that places boundaries
//! every mean annotated cycle length. Heart mode on the heart set: the rate
//! found must be plausible (40–180 bpm) on at least 95% of recordings; on
//! CirCor's annotated segmentations, S1 and S2 onsets within ±100 ms.
//!
//! `cargo test --test segment_eval -- --nocapture` prints the figures the
//! README reports.

mod common;

use std::path::Path;

use auscult::host::{Chain, ChainEvent, PluginInstance, PluginLibrary};
use auscult_plugin_api::EventKind;

const TOLERANCE_S: f64 = 0.5;

fn segment(path: &Path, mode: f64) -> (Vec<ChainEvent>, f64, f64) {
    let audio = auscult::audio::decode_file(path).unwrap();
    let rate = f64::from(audio.sample_rate);
    let lib = PluginLibrary::load(&common::plugin("segment")).unwrap();
    let mut inst = PluginInstance::new(lib.clone(), rate, 1024).unwrap();
    inst.set_param(lib.info().param("mode").unwrap().id, mode).unwrap();
    let mut chain = Chain::new(rate, 1024);
    chain.push("segment", inst, false);
    let mut out = vec![0.0; audio.samples.len()];
    let mut events = Vec::with_capacity(100_000);
    chain.process(&audio.samples, &mut out, &mut events);
    assert_eq!(out, audio.samples, "audio passes through unchanged");
    (events, rate, audio.duration_s())
}

/// Greedy one-to-one matching within the tolerance: (true positives, detected, reference).
fn match_boundaries(detected: &[f64], reference: &[f64]) -> (usize, usize, usize) {
    let mut used = vec![false; reference.len()];
    let mut tp = 0;
    for &d in detected {
        let best =
            reference.iter().enumerate().filter(|(i, r)| !used[*i] && (*r - d).abs() <= TOLERANCE_S).min_by(|a, b| (a.1 - d).abs().total_cmp(&(b.1 - d).abs()));
        if let Some((i, _)) = best {
            used[i] = true;
            tp += 1;
        }
    }
    (tp, detected.len(), reference.len())
}

fn unique_sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v.dedup_by(|a, b| (*a - *b).abs() < 1e-3);
    v
}

fn prf(tp: usize, det: usize, refs: usize) -> (f64, f64, f64) {
    let p = tp as f64 / det.max(1) as f64;
    let r = tp as f64 / refs.max(1) as f64;
    (p, r, if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 })
}

/// Patients whose recordings the lung mode's breathing-period rules were
/// designed on; the others are the held-out check, reported apart.
const LUNG_DESIGN_PATIENTS: [&str; 5] = ["103", "105", "106", "128", "154"];

#[test]
fn lung_mode_cycle_boundaries_on_icbhi() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("icbhi/audio_and_txt_files");
    let mut wavs: Vec<_> =
        std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "wav")).collect();
    wavs.sort();
    // [design, held out] × [ours, baseline]: (true positives, detected, reference)
    let mut split = [[(0, 0, 0); 2]; 2];
    let add = |a: &mut (usize, usize, usize), m: (usize, usize, usize)| *a = (a.0 + m.0, a.1 + m.1, a.2 + m.2);
    for wav in &wavs {
        let patient = wav.file_name().unwrap().to_string_lossy().split('_').next().unwrap().to_string();
        let group = usize::from(!LUNG_DESIGN_PATIENTS.contains(&patient.as_str()));
        let text = std::fs::read_to_string(wav.with_extension("txt")).unwrap();
        let cycles: Vec<(f64, f64)> = text
            .lines()
            .filter_map(|l| {
                let f: Vec<f64> = l.split_whitespace().filter_map(|x| x.parse().ok()).collect();
                (f.len() >= 2).then(|| (f[0], f[1]))
            })
            .collect();
        let reference = unique_sorted(cycles.iter().flat_map(|&(a, b)| [a, b]).collect());
        let (events, rate, duration) = segment(wav, 0.0);
        let detected =
            unique_sorted(events.iter().filter(|e| matches!(e.kind, EventKind::CycleStart | EventKind::CycleEnd)).map(|e| e.sample as f64 / rate).collect());
        let m = match_boundaries(&detected, &reference);
        add(&mut split[group][0], m);
        // Baseline: a boundary every mean annotated cycle length.
        let mean = cycles.iter().map(|(a, b)| b - a).sum::<f64>() / cycles.len().max(1) as f64;
        let periodic: Vec<f64> = (0..).map(|k| k as f64 * mean).take_while(|&t| t <= duration).collect();
        let m = match_boundaries(&periodic, &reference);
        add(&mut split[group][1], m);
    }
    let [mut ours, mut base] = split[0];
    add(&mut ours, split[1][0]);
    add(&mut base, split[1][1]);
    let (p, r, f1) = prf(ours.0, ours.1, ours.2);
    let (bp, br, bf1) = prf(base.0, base.1, base.2);
    eprintln!("ICBHI ({} recordings, {} reference boundaries, ±{TOLERANCE_S} s):", wavs.len(), ours.2);
    eprintln!("  segment (lung)     precision {p:.3} recall {r:.3} F1 {f1:.3} ({} detected)", ours.1);
    eprintln!("  periodic baseline  precision {bp:.3} recall {br:.3} F1 {bf1:.3} (knows the true mean cycle length)");
    for (name, [o, b]) in ["design patients", "held-out patients"].iter().zip(split) {
        let ((p, r, f1), (_, _, bf1)) = (prf(o.0, o.1, o.2), prf(b.0, b.1, b.2));
        eprintln!("  {name:<18} precision {p:.3} recall {r:.3} F1 {f1:.3} (baseline F1 {bf1:.3}; {} boundaries)", o.2);
    }
    assert_eq!(wavs.len(), 49);
    assert!(f1 > bf1, "the segmenter must beat a periodic guess that knows the mean cycle length: {f1:.3} vs {bf1:.3}");
}

#[test]
fn heart_mode_rate_is_plausible_on_the_heart_set() {
    let Some(data) = common::shared_data() else { return };
    let (mut plausible, mut total) = (0, 0);
    let mut rates = Vec::new();
    for class in ["N", "MR", "MS", "MVP"] {
        let mut files: Vec<_> = std::fs::read_dir(data.join("heart-yaseen2018").join(class)).unwrap().filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            let (events, _, _) = segment(&f, 1.0);
            let mut bpm: Vec<f64> = events.iter().filter(|e| matches!(e.kind, EventKind::S1 | EventKind::S2)).map(|e| f64::from(e.value)).collect();
            bpm.sort_by(f64::total_cmp);
            total += 1;
            if let Some(&median) = bpm.get(bpm.len() / 2) {
                rates.push(median);
                if (40.0..=180.0).contains(&median) {
                    plausible += 1;
                }
            }
        }
    }
    rates.sort_by(f64::total_cmp);
    let share = plausible as f64 / total as f64;
    eprintln!(
        "heart set: {plausible}/{total} recordings with a plausible rate ({:.1}%); median rate {:.0} bpm; {} with no heart sound labelled",
        100.0 * share,
        rates.get(rates.len() / 2).copied().unwrap_or(f64::NAN),
        total - rates.len()
    );
    assert_eq!(total, 640);
    assert!(share >= 0.95, "{:.1}% plausible", 100.0 * share);
}

/// Heart mode against CirCor's annotated S1 and S2 onsets, through the
/// command a user runs (`auscult eval-beats`, heart mode's chain), beside a
/// guess that knows each recording's annotated rate but not its phase: S1
/// every beat from 0 s, S2 a third of a beat after. The full-corpus figure
/// is in the README.
#[test]
fn heart_mode_s1_and_s2_onsets_against_circor_annotations() {
    use auscult::beat_eval::{self, Counts, Detection, Reference};
    use auscult::datasets::circor;
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("circor");
    let csv = tempfile::NamedTempFile::new().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
        .args(["eval-beats", "--data"])
        .arg(&dir)
        .arg("--csv")
        .arg(csv.path())
        .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}");
    let rows: Vec<Vec<String>> = std::fs::read_to_string(csv.path()).unwrap().lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect();
    assert_eq!(rows.len(), 20, "every recording of the subset has a segmentation");
    let (mut ours, mut guess) = ([Counts::default(); 2], [Counts::default(); 2]);
    for row in &rows {
        let n = |i: usize| row[i].parse::<usize>().unwrap();
        ours[0].add(Counts { matched: n(1), detected: n(2), reference: n(3) });
        ours[1].add(Counts { matched: n(4), detected: n(5), reference: n(6) });
        let tsv = std::path::Path::new(&row[0]).with_extension("tsv");
        let reference = Reference::from_segments(&circor::segmentation(&tsv).unwrap());
        let period = 60.0 / reference.rate_bpm.unwrap();
        let end = reference.stretches.last().unwrap().1;
        let periodic: Vec<Detection> = (0..)
            .map(|k| k as f64 * period)
            .take_while(|&t| t < end)
            .flat_map(|t| [Detection { time_s: t, s1: true, bpm: 0.0 }, Detection { time_s: t + period / 3.0, s1: false, bpm: 0.0 }])
            .collect();
        let score = beat_eval::score(&reference, &periodic, 0.1);
        guess[0].add(score.s1);
        guess[1].add(score.s2);
    }
    for (k, name) in ["S1", "S2"].iter().enumerate() {
        let (o, g) = (ours[k], guess[k]);
        eprintln!("{name}: heart mode F1 {:.3}, periodic guess at the annotated rate F1 {:.3}", o.f1(), g.f1());
        assert!(o.reference > 200, "{name}: {o:?}");
        assert!(o.f1() > g.f1() + 0.1, "{name}: heart mode F1 {:.3} against the periodic guess's {:.3}", o.f1(), g.f1());
        assert!(stdout.contains(&format!("{name}  ")), "{stdout}");
    }
}

/// Heart mode holds each onset back a second for the next window to
/// confirm. When the stream ends, the host's flush (the end-of-stream
/// extension) has the last second's onsets, placed on the same timeline;
/// and the stream after it starts over.
#[test]
fn heart_mode_reports_the_last_seconds_onsets_when_the_stream_ends() {
    let Some(data) = common::shared_data() else { return };
    let wav = data.join("circor/training_data/49966_MV.wav");
    let audio = auscult::audio::decode_file(&wav).unwrap();
    let rate = f64::from(audio.sample_rate);
    let lib = PluginLibrary::load(&common::plugin("segment")).unwrap();
    let mut inst = PluginInstance::new(lib.clone(), rate, 1024).unwrap();
    inst.set_param(lib.info().param("mode").unwrap().id, 1.0).unwrap();
    let mut chain = Chain::new(rate, 1024);
    chain.push("segment", inst, false);
    let end = audio.samples.len() as u64;
    let beats = |events: &[ChainEvent]| events.iter().filter(|e| matches!(e.kind, EventKind::S1 | EventKind::S2)).count();

    let mut out = vec![0.0; audio.samples.len()];
    let mut events = Vec::with_capacity(10_000);
    chain.process(&audio.samples, &mut out, &mut events);
    let streamed = events.len();
    let last_streamed = events.iter().map(|e| e.sample).max().unwrap();
    assert!(beats(&events) > 10, "{} beats", beats(&events));
    assert!(last_streamed + rate as u64 <= end, "the last second is held back while the stream runs");

    chain.flush(&mut events);
    let tail = &events[streamed..];
    assert!(!tail.is_empty(), "the held-back onsets come out at the end");
    assert!(tail.iter().all(|e| e.sample > last_streamed && e.sample < end), "{tail:?} after {last_streamed}, before {end}");
    assert!(tail.iter().all(|e| matches!(e.kind, EventKind::S1 | EventKind::S2) && (40.0..=200.0).contains(&e.value)), "{tail:?}");
    assert!(end - tail.iter().map(|e| e.sample).max().unwrap() < rate as u64, "onsets in the last second: {tail:?}");

    let mut again = Vec::with_capacity(10_000);
    chain.process(&audio.samples, &mut out, &mut again);
    chain.flush(&mut again);
    assert_eq!(again, events, "the next stream starts over from 0");
}

/// The TUI's analysis thread, replaying a file to its end, shows every beat
/// the offline path finds: the last second's too, which the segmenter hands
/// over only when the input ends.
#[test]
fn the_analysis_thread_shows_the_last_seconds_beats_when_a_replayed_file_ends() {
    use auscult::analysis::{self, AnalysisConfig, Command, Update};
    use auscult::audio::replay::{self, Pace, ReplayOptions};
    use auscult::host::{ChainConfig, SearchPath};
    let Some(data) = common::shared_data() else { return };
    let wav = data.join("circor/training_data/49966_MV.wav");
    let config = ChainConfig::load(&common::workspace_root().join("plugins/chains/heart.toml")).unwrap();
    let search = SearchPath::standard(&[common::plugin_dir().to_path_buf()]);
    let source = replay::open(&wav, ReplayOptions { pace: Pace::Fast, looped: false, ring_seconds: 4.0 }).unwrap();
    let rate = f64::from(source.info.sample_rate);
    let chain = config.build(&search, rate, 1024).unwrap();

    // What the offline path finds, whole stream and end of stream apart.
    let audio = auscult::audio::decode_file(&wav).unwrap();
    let mut offline = config.build(&search, rate, 1024).unwrap();
    let mut streamed = Vec::with_capacity(10_000);
    offline.process(&audio.samples, &mut vec![0.0; audio.samples.len()], &mut streamed);
    let mut ended = Vec::with_capacity(100);
    offline.flush(&mut ended);
    let s1 = |events: &[ChainEvent]| events.iter().filter(|e| e.kind == EventKind::S1).count();
    assert!(s1(&ended) > 0, "the recording's last second holds an S1: {ended:?}");
    let expected = s1(&streamed) + s1(&ended);

    let (commands, command_rx) = crossbeam_channel::unbounded::<Command>();
    let (update_tx, updates) = crossbeam_channel::unbounded::<Update>();
    let analysis_config = AnalysisConfig { n_mels: 64, fmin: 20.0, fmax: 1000.0, chain_file: None, chain_text: None, model: None };
    let worker = std::thread::spawn(move || analysis::run(source, chain, None, analysis_config, command_rx, update_tx));
    let mut beats = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while beats.len() < expected && std::time::Instant::now() < deadline {
        if let Ok(Update::Beat { s1_s, .. }) = updates.recv_timeout(std::time::Duration::from_millis(200)) {
            beats.push(s1_s);
        }
    }
    // Anything more would come at once; give it a moment to show itself.
    let extra = updates.recv_timeout(std::time::Duration::from_millis(500)).into_iter().filter(|u| matches!(u, Update::Beat { .. })).count();
    commands.send(Command::Quit).unwrap();
    worker.join().unwrap();
    assert_eq!((beats.len(), extra), (expected, 0), "the TUI's beats against the offline S1s");
    let last = beats.iter().copied().fold(0.0, f64::max);
    assert!(last > audio.duration_s() - 1.0, "a beat in the last second: {last:.2} of {:.2} s", audio.duration_s());
}
