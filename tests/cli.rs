//! The `auscult` binary, run as a user would.

mod common;

use std::path::Path;
use std::process::Command;

use common::{plugin_dir, shared_data, sine};

fn auscult() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auscult"));
    cmd.env("AUSCULT_PLUGIN_PATH", plugin_dir());
    cmd
}

/// Runs `command` with its stdout a pipe whose reader has gone before the
/// first line (as `head -1`'s has after its one).
fn with_reader_gone(command: &mut Command) -> std::process::Output {
    let mut child = command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// `tone.wav` in `dir`: `frames` of a 200 Hz tone at half scale, 4 kHz, 16-bit.
fn tone_file(dir: &Path, frames: usize) -> std::path::PathBuf {
    let path = dir.join("tone.wav");
    let tone: Vec<i16> = sine(200.0, 0.5, 4000.0, frames).iter().map(|x| (x * 32767.0) as i16).collect();
    write_wav_i16(&path, &tone, 4000, 1);
    path
}

fn write_wav_i16(path: &Path, samples: &[i16], rate: u32, channels: u16) {
    let spec = hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

fn read_f32(path: &Path) -> (Vec<f32>, hound::WavSpec) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    (r.samples::<f32>().map(Result::unwrap).collect(), spec)
}

#[test]
fn plugins_list_shows_names_versions_paths_and_ranges() {
    let out = auscult().args(["plugins", "list"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("gain ") && text.contains("org.auscult.gain"), "{text}");
    assert!(text.contains("gain_db      [-60, 40] dB, default 0, linear"), "{text}");
    assert!(text.contains(&plugin_dir().join("libgain.so").display().to_string()), "{text}");
    assert!(text.contains("refused:") && text.contains("not compatible"), "broken plugins are listed with the reason: {text}");
    // The segmenter offers the end-of-stream extension; the gain does not.
    let block = |id: &str| text.split("\n").skip_while(|l| !l.contains(id)).skip(1).take_while(|l| l.starts_with("    ")).collect::<Vec<_>>().join("\n");
    assert!(block("org.auscult.segment").contains("extensions: auscult.flush/1"), "{text}");
    assert!(!block("org.auscult.gain").contains("extensions:"), "{text}");
}

#[test]
fn plugins_check_reports_each_signal_and_faults() {
    let out = auscult().args(["plugins", "check"]).arg(plugin_dir().join("libgain.so")).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    for row in ["4000 Hz   silence", "4000 Hz   noise", "44100 Hz  impulse"] {
        assert!(text.contains(row), "{row} missing from\n{text}");
    }
    assert_eq!(text.matches(" none").count(), 6, "{text}");
    assert!(!text.contains("extensions:"), "{text}");
    let out = auscult().args(["plugins", "check"]).arg(plugin_dir().join("libsegment.so")).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.lines().next().unwrap().ends_with("ABI 1.0.0, extensions: auscult.flush/1"), "{text}");

    // The fault injector panics on every block: check says so and exits 1.
    let out = auscult().args(["plugins", "check"]).arg(plugin_dir().join("libfaulty.so")).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "default mode is well-behaved");
    let out = auscult().args(["plugins", "check", "/nonexistent/libx.so"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/libx.so"));
}

#[test]
fn process_with_empty_chain_outputs_the_decoded_input_mixed_to_mono() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    // Stereo: left a ramp, right its negation plus an offset.
    let frames = 5000;
    let samples: Vec<i16> = (0..frames).flat_map(|i| [(i * 3) as i16, (100 - i) as i16]).collect();
    write_wav_i16(&input, &samples, 8000, 2);
    let output = dir.path().join("out.wav");
    let status = auscult().arg("process").arg(&input).arg(&output).status().unwrap();
    assert!(status.success());
    let (out, spec) = read_f32(&output);
    assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (8000, 1, 32));
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    assert_eq!(out.len(), frames as usize);
    for (i, o) in out.iter().enumerate() {
        let expect = ((i as f32 * 3.0) + (100.0 - i as f32)) / 2.0 / 32768.0;
        assert!((o - expect).abs() < 1e-7, "frame {i}: {o} vs {expect}");
    }
}

#[test]
fn process_runs_a_chain_and_writes_events() {
    let dir = tempfile::tempdir().unwrap();
    let input = tone_file(dir.path(), 4000);
    let chain = dir.path().join("chain.toml");
    std::fs::write(&chain, "[[chain]]\nplugin = \"gain\"\nparams = { gain_db = -20.0 }\n\n[[chain]]\nplugin = \"faulty\"\n").unwrap();
    let (output, events) = (dir.path().join("out.wav"), dir.path().join("events.csv"));
    let out = auscult().args(["process", "--block", "1000", "--chain"]).arg(&chain).arg(&input).arg(&output).arg("--events").arg(&events).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (samples, _) = read_f32(&output);
    let peak = samples.iter().fold(0f32, |m, x| m.max(x.abs()));
    assert!((peak - 0.05).abs() < 1e-3, "-20 dB of 0.5 is 0.05, got {peak}");
    let csv = std::fs::read_to_string(&events).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time_s,sample,kind,plugin");
    assert_eq!(
        &lines[1..],
        ["0.000000,0,cycle_start,faulty", "0.250000,1000,cycle_start,faulty", "0.500000,2000,cycle_start,faulty", "0.750000,3000,cycle_start,faulty"]
    );
}

#[test]
fn process_reports_chain_errors_with_position_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    write_wav_i16(&input, &[0; 100], 4000, 1);
    let chain = dir.path().join("chain.toml");
    std::fs::write(&chain, "[[chain]]\nplugin = \"gain\"\nparams = { gian_db = 1.0 }\n").unwrap();
    let output = dir.path().join("out.wav");
    let out = auscult().arg("process").arg("--chain").arg(&chain).arg(&input).arg(&output).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chain.toml:3:12: unknown parameter \"gian_db\""), "{err}");
    assert!(!output.exists());
}

#[test]
fn process_handles_real_recordings_at_every_rate() {
    let Some(data) = shared_data() else { return };
    let files = [
        data.join("icbhi/audio_and_txt_files/103_2b2_Ar_mc_LittC2SE.wav"),
        data.join("heart-yaseen2018/N").read_dir().unwrap().next().unwrap().unwrap().path(),
        data.join("kauh/audio").read_dir().unwrap().next().unwrap().unwrap().path(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain.toml");
    std::fs::write(&chain, "[[chain]]\nplugin = \"gain\"\nparams = { gain_db = 0.0 }\n").unwrap();
    for file in files {
        let output = dir.path().join("out.wav");
        let out = auscult().arg("process").arg("--chain").arg(&chain).arg(&file).arg(&output).output().unwrap();
        assert!(out.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
        let decoded = auscult::audio::decode_file(&file).unwrap();
        let (samples, spec) = read_f32(&output);
        assert_eq!(spec.sample_rate, decoded.sample_rate);
        assert_eq!(samples, decoded.samples, "{}: 0 dB gain is the identity", file.display());
    }
}

#[test]
fn features_mel_writes_librosa_layout_npy() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tone.wav");
    let tone: Vec<i16> = sine(300.0, 0.5, 8000.0, 8000).iter().map(|x| (x * 32767.0) as i16).collect();
    write_wav_i16(&input, &tone, 8000, 1);
    let out = dir.path().join("mel.npy");
    let status = auscult()
        .args(["features", "mel"])
        .arg(&input)
        .args(["--sr", "4000", "--n-fft", "256", "--hop", "64", "--n-mels", "64", "--fmin", "50", "--fmax", "2000", "--db", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&out).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    // 1 s resampled to 4000 samples: 1 + 4000/64 frames, centred.
    assert_eq!(npy.shape(), &[64, 63]);
    let data = npy.into_vec::<f32>().unwrap();
    // The loudest band in the middle frame is the one holding 300 Hz.
    let column: Vec<f32> = (0..64).map(|m| data[m * 63 + 31]).collect();
    let peak = column.iter().enumerate().fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a }).0;
    let bank = auscult::dsp::MelFilterbank::librosa(4000.0, 256, 64, 50.0, 2000.0, auscult::dsp::MelScale::Slaney, true);
    let bin_300 = (300.0f64 * 256.0 / 4000.0).round() as usize;
    let band = &bank.bands[peak];
    assert!(band.start <= bin_300 && bin_300 < band.start + band.weights.len(), "peak band {peak} does not cover 300 Hz");

    let out = auscult().args(["features", "mel", "/nonexistent.wav", "--out"]).arg(dir.path().join("x.npy")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The file and the OS's reason, once each.
    assert!(stderr.contains("/nonexistent.wav") && stderr.matches("No such file or directory").count() == 1, "{stderr}");
}

/// `features mel` over a tree: one .npy per input under `--out-dir`, the
/// tree mirrored, each at its own rate with `--sr native`.
#[test]
fn features_mel_over_a_tree_mirrors_it_at_each_files_own_rate() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("in");
    std::fs::create_dir_all(tree.join("b")).unwrap();
    for (name, rate) in [("a.wav", 4000u32), ("b/c.wav", 8000)] {
        let tone: Vec<i16> = sine(300.0, 0.5, f64::from(rate), rate as usize).iter().map(|x| (x * 32767.0) as i16).collect();
        write_wav_i16(&tree.join(name), &tone, rate, 1);
    }
    let out = dir.path().join("out");
    let status = auscult()
        .current_dir(dir.path())
        .args(["features", "mel", "in", "--sr", "native", "--n-fft", "256", "--hop", "64", "--n-mels", "32", "--fmax", "2000", "--jobs", "2", "--out-dir"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for (name, frames) in [("in/a.npy", 1 + 4000 / 64), ("in/b/c.npy", 1 + 8000 / 64)] {
        let bytes = std::fs::read(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(npyz::NpyFile::new(&bytes[..]).unwrap().shape(), &[32, frames as u64], "{name}");
    }
    let two = auscult().current_dir(dir.path()).args(["features", "mel", "in", "--out"]).arg(dir.path().join("x.npy")).output().unwrap();
    assert!(String::from_utf8_lossy(&two.stderr).contains("--out names one output for 2 inputs"));
}

#[test]
fn train_refuses_impossible_options_before_reading_any_audio() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for class in ["a", "b"] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        // Not audio: reading it would fail naming the file.
        std::fs::write(data.join(class).join("p1_x.wav"), b"RIFF not really").unwrap();
    }
    let out_dir = dir.path().join("model");
    let train = |options: &[&str]| {
        let out = auscult().args(["train", "--task", "folder", "--data"]).arg(&data).arg("--out").arg(&out_dir).args(options).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for (options, named) in [
        (&["--folds", "1"][..], "--folds 1"),
        (&["--folds", "5", "--fold", "5"][..], "--fold 5"),
        (&["--batch", "0"][..], "--batch 0"),
        (&["--epochs", "0"][..], "--epochs 0"),
        (&["--channels", "8,0"][..], "--channels"),
        (&["--dropout", "1"][..], "--dropout 1"),
        (&["--weight-decay=-0.1"][..], "--weight-decay -0.1"),
        (&["--learning-rate", "0"][..], "--learning-rate 0"),
        (&["--init", "no-such-model"][..], "no-such-model"),
        // The shipped heart model's blocks are 8-16-32-64 wide, on 64 mels.
        (&["--init", "heart-yaseen"][..], "--channels"),
        (&["--init", "heart-yaseen", "--channels", "8,16,32,64", "--n-mels", "32"][..], "--n-mels"),
        // A folder of classes has no sound annotations to name.
        (&["--auxiliary-sounds"][..], "--auxiliary-sounds"),
        (&["--auxiliary-sounds", "--auxiliary-weight", "0"][..], "--auxiliary-weight 0"),
        (&["--auxiliary-weight", "2"][..], "--auxiliary-sounds"),
    ] {
        let (code, stderr) = train(options);
        assert_eq!(code, Some(2), "{options:?}: {stderr}");
        assert!(stderr.contains(named) && !stderr.contains("p1_x.wav"), "{options:?}: {stderr}");
        assert!(!out_dir.exists(), "{options:?} created {}", out_dir.display());
    }
    // The same data with workable options gets as far as the audio, and
    // says which file is bad.
    let (code, stderr) = train(&["--folds", "2", "--fold", "1", "--max-steps", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("p1_x.wav"), "{stderr}");
}

#[test]
fn folds_deal_every_patient_to_one_fold_and_every_common_diagnosis_to_each() {
    let Some(data) = shared_data() else { return };
    let kauh = data.join("kauh");
    let out = auscult().args(["folds", "--task", "lung-diagnosis", "--data"]).arg(&kauh).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut rows = csv::Reader::from_reader(out.stdout.as_slice());
    assert_eq!(rows.headers().unwrap(), vec!["fold", "patient", "class", "start_s", "end_s", "path"]);
    let mut fold_of_patient = std::collections::BTreeMap::<String, usize>::new();
    let mut patients_of_class = std::collections::BTreeMap::<String, Vec<(String, usize)>>::new();
    let mut paths = std::collections::BTreeSet::new();
    for row in rows.records() {
        // KAUH names hold commas: a row that split on them would not parse
        // to six fields, or would name no file.
        let row = row.unwrap();
        let (fold, patient, class, path) = (row[0].parse::<usize>().unwrap(), &row[1], &row[2], Path::new(&row[5]));
        assert!(path.is_file(), "{}", path.display());
        assert!(paths.insert(path.to_path_buf()), "{} listed twice", path.display());
        let first = *fold_of_patient.entry(patient.to_string()).or_insert(fold);
        assert_eq!(first, fold, "patient {patient} in folds {first} and {fold}");
        patients_of_class.entry(class.to_string()).or_default().push((patient.to_string(), fold));
    }
    let wavs = kauh.join("audio").read_dir().unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "wav")).count();
    assert_eq!(paths.len(), wavs, "every recording in one row");
    // Stratified: a diagnosis with at least five patients reaches every fold.
    for (class, patients) in &mut patients_of_class {
        patients.sort();
        patients.dedup();
        let folds: std::collections::BTreeSet<usize> = patients.iter().map(|&(_, f)| f).collect();
        if patients.len() >= 5 {
            assert_eq!(folds.len(), 5, "{class}: {} patients, in folds {folds:?}", patients.len());
        }
    }
    // `auscult folds ... | head`: a reader that has gone is not an error.
    let out = with_reader_gone(auscult().args(["folds", "--task", "lung-diagnosis", "--data"]).arg(&kauh));
    assert!(out.status.success() && out.stderr.is_empty(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let out = auscult().args(["folds", "--task", "lung-diagnosis", "--folds", "1", "--data"]).arg(&kauh).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--folds"));
}

#[test]
fn process_exits_1_when_a_plugin_faulted_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let input = tone_file(dir.path(), 8000);
    let chain = dir.path().join("chain.toml");
    let output = dir.path().join("out.wav");
    let run = |text: &str| {
        std::fs::write(&chain, text).unwrap();
        auscult().args(["process", "--chain"]).arg(&chain).arg(&input).arg(&output).output().unwrap()
    };
    // NaN from the third block on: bypassed, the file still written.
    let out = run("[[chain]]\nplugin = \"faulty\"\nparams = { mode = 2, every_n = 3 }\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("plugin \"faulty\" was bypassed after a fault") && err.contains("1 of 1 plugins faulted"), "{err}");
    assert!(output.exists());
    // The same plugin without a fault: 0.
    let out = run("[[chain]]\nplugin = \"faulty\"\nparams = { mode = 0 }\n");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn process_stats_columns_line_up_whatever_the_names() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tone.wav");
    write_wav_i16(&input, &[0; 4000], 4000, 1);
    let chain = dir.path().join("chain.toml");
    // Names of different lengths.
    let long = "passthrough";
    std::fs::write(&chain, format!("[[chain]]\nplugin = \"gain\"\n\n[[chain]]\nplugin = \"{long}\"\n")).unwrap();
    let out = auscult().args(["process", "--stats", "--chain"]).arg(&chain).arg(&input).arg(dir.path().join("o.wav")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    let rows: Vec<&str> = err.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(rows.len(), 3, "header and two plugins:\n{err}");
    // Each column ends at the same place on every row.
    let ends = |row: &str| -> Vec<usize> {
        let chars: Vec<char> = row.chars().collect();
        // The last three columns are right-aligned numbers: where they end.
        (1..=chars.len()).filter(|&i| chars[i - 1] != ' ' && chars.get(i).is_none_or(|&c| c == ' ')).collect::<Vec<_>>().into_iter().rev().take(3).collect()
    };
    let (a, b) = (ends(rows[1]), ends(rows[2]));
    assert_eq!(a, b, "columns move:\n{err}");
    assert!(rows[0].contains("LATENCY") && rows[2].contains(long), "{err}");
}

#[test]
fn commands_that_print_end_quietly_on_a_closed_pipe() {
    // The reader is gone before the first line (as `head -1` is after
    // its one): every write fails with a broken pipe, which must not panic.
    for args in [vec!["plugins", "list"], vec!["devices"], vec!["--help"]] {
        let out = with_reader_gone(auscult().args(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
    }
}

#[test]
fn the_default_sessions_folder_holds_patient_audio_and_is_git_ignored() {
    let root = common::workspace_root();
    if !root.join(".git").exists() {
        println!("SKIP: {} is not a git checkout", root.display());
        return;
    }
    // `auscult` and `auscult record` write to ./sessions by default; the
    // README's run command is given from the checkout.
    let check = |path: &str| Command::new("git").args(["check-ignore", "-q", path]).current_dir(&root).status();
    match check("sessions/20261207T101010Z/audio.wav") {
        Ok(status) => assert!(status.success(), "sessions/ (patient audio) is not git-ignored"),
        Err(e) => println!("SKIP: git not runnable: {e}"),
    }
}

#[test]
fn the_quick_start_names_every_package_the_setup_installs() {
    let root = common::workspace_root();
    let setup = std::fs::read_to_string(root.join(".ci/setup")).unwrap();
    let list = setup.lines().find_map(|l| l.strip_prefix("packages=(")).expect("a packages=(...) line in .ci/setup");
    let packages: Vec<&str> = list.trim_end_matches(')').split_whitespace().collect();
    assert!(packages.len() >= 3, "{packages:?}");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let quick_start = readme.split("## Quick start").nth(1).unwrap().split("\n## ").next().unwrap();
    for package in packages {
        assert!(quick_start.contains(package), "the Quick start does not name {package}, which .ci/setup installs");
    }
}

/// `analyze` over a directory tree and a list file, in parallel: a corrupt
/// file in the middle is reported and skipped while the rest are done (exit
/// 1, naming it); `--sorted` gives the same bytes whatever `--jobs`; three
/// shards between them analyse every input exactly once, and their rows
/// are the unsharded run's.
#[test]
fn analyze_runs_a_tree_in_parallel_skips_a_bad_file_and_shards_exactly() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    for (class, n) in [("N", 4), ("MS", 4)] {
        std::fs::create_dir_all(tree.join(class)).unwrap();
        for i in 1..=n {
            let name = format!("New_{class}_{i:03}.wav");
            std::fs::copy(data.join("heart-yaseen2018").join(class).join(&name), tree.join(class).join(&name)).unwrap();
        }
    }
    // A WAV header promising data that is not there, between good files.
    std::fs::write(tree.join("MS/New_MS_002b.wav"), b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00").unwrap();
    let list = dir.path().join("more.txt");
    std::fs::write(&list, format!("{}\n", data.join("heart-yaseen2018/MVP/New_MVP_001.wav").display())).unwrap();
    let run = |extra: &[&str]| {
        let out = auscult()
            .arg("analyze")
            .arg(&tree)
            .arg("--files-from")
            .arg(&list)
            .args(["--model", "heart-yaseen", "--format", "csv"])
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (code, one, stderr) = run(&["--jobs", "1", "--sorted"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("New_MS_002b.wav") && stderr.contains("1 of 10 files could not be analysed"), "{stderr}");
    let rows: Vec<&str> = one.lines().skip(1).collect();
    assert_eq!(rows.len(), 9, "every good file, once:\n{one}");
    assert!(rows[0].contains("MS/New_MS_001.wav") && rows[8].contains("New_MVP_001.wav"), "directory order, then the list:\n{one}");
    let (_, two, _) = run(&["--jobs", "3", "--sorted"]);
    assert_eq!(one, two, "--sorted: the same bytes with 1 and 3 jobs");
    let mut sharded: Vec<String> = Vec::new();
    for k in 0..3 {
        let (_, out, _) = run(&["--jobs", "2", "--shard", &format!("{k}/3")]);
        sharded.extend(out.lines().skip(1).map(String::from));
    }
    let mut whole: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    whole.sort();
    sharded.sort();
    assert_eq!(sharded, whole, "three shards: each file once, the same rows");
}
