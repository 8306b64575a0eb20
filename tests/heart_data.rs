//! The heart corpora's loaders on the real subsets in ../shared/data
//! (CirCor DigiScope 2022, PhysioNet/CinC 2016, in their publishers'
//! layouts) and on broken copies of them made here: each fault a clear
//! error naming the file and line, or a counted skip where skipping is right.

mod common;

use std::path::{Path, PathBuf};

use auscult::datasets::circor::{self, CirCor, HeartState};
use auscult::datasets::physionet2016::{self, PhysioNet2016};
use auscult::datasets::{split, DatasetLoader};

/// A copy of a shared subset, to break.
fn copy_of(from: &Path) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(from, dir.path());
    dir
}

fn rewrite(path: &Path, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, edit(text)).unwrap();
}

#[test]
fn circor_recordings_carry_their_patients_murmur_where_it_was_heard() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("circor");
    let corpus = CirCor.load(&dir).unwrap();
    assert_eq!(corpus.classes, circor::MURMUR_CLASSES);
    assert_eq!(corpus.examples.len(), 20);
    assert_eq!(corpus.patients().len(), 8);
    assert!(corpus.warnings.is_empty(), "{:?}", corpus.warnings);
    let label = |stem: &str| {
        let e = corpus.examples.iter().find(|e| e.path.file_stem().unwrap() == stem).unwrap();
        corpus.classes[e.label].as_str()
    };
    // 50744 has a murmur heard at MV, PV and TV, not at AV.
    assert_eq!([label("50744_AV"), label("50744_MV"), label("50744_PV"), label("50744_TV")], ["absent", "present", "present", "present"]);
    assert_eq!(label("69060_PV"), "unknown");
    assert_eq!(label("85301_MV"), "absent");
    assert_eq!(corpus.class_counts(), [10, 5, 5]);
    // Per patient, the challenge's rule gives back the table's label.
    for p in circor::patients(&dir).unwrap() {
        let labels = corpus.examples.iter().filter(|e| e.patient == p.id).map(|e| e.label);
        assert_eq!(circor::patient_murmur(labels), p.murmur, "patient {}", p.id);
    }
    for fold in 0..4 {
        let s = split::patient_kfold(&corpus, 4, fold, 1);
        assert!(s.shared_patients(&corpus).is_empty());
    }
}

#[test]
fn circor_segmentations_read_in_order_with_every_state() {
    let Some(data) = common::shared_data() else { return };
    let (recordings, _) = circor::recordings(&data.join("circor")).unwrap();
    assert!(recordings.iter().all(|r| r.tsv.is_some()));
    let segments = circor::segmentation(recordings[0].tsv.as_ref().unwrap()).unwrap();
    assert!(segments.len() > 20);
    assert!(segments.windows(2).all(|w| (w[1].start_s - w[0].end_s).abs() < 1e-6), "contiguous");
    for state in [HeartState::S1, HeartState::Systole, HeartState::S2, HeartState::Diastole] {
        assert!(segments.iter().any(|s| s.state == state), "{state:?}");
    }
    // The annotated cycle follows S1, systole, S2, diastole.
    let annotated: Vec<HeartState> = segments.iter().map(|s| s.state).filter(|&s| s != HeartState::Unannotated).collect();
    let s1 = annotated.iter().position(|&s| s == HeartState::S1).unwrap();
    assert_eq!(annotated[s1..s1 + 4], [HeartState::S1, HeartState::Systole, HeartState::S2, HeartState::Diastole]);
}

fn error_of(result: Result<impl std::fmt::Debug, auscult::datasets::DatasetError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn broken_circor_copies_give_errors_naming_file_and_line_or_counted_skips() {
    let Some(data) = common::shared_data() else { return };
    let src = data.join("circor");
    let table = |d: &Path| d.join("training_data.csv");
    let audio = |d: &Path, name: &str| d.join("training_data").join(name);

    // A missing .tsv: the recording stays (for the murmur task), counted once.
    let dir = copy_of(&src);
    std::fs::remove_file(audio(dir.path(), "50744_PV.tsv")).unwrap();
    let (recordings, skipped) = circor::recordings(dir.path()).unwrap();
    assert_eq!(recordings.len(), 20);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].starts_with("1 recordings have no segmentation") && skipped[0].contains("50744_PV.wav"), "{skipped:?}");
    // A segmentation without its WAV (as CirCor's own 50782_MV.tsv): counted.
    std::fs::copy(audio(dir.path(), "50744_MV.tsv"), audio(dir.path(), "50744_MV_9.tsv")).unwrap();
    let (_, skipped) = circor::recordings(dir.path()).unwrap();
    assert!(skipped.iter().any(|s| s.starts_with("1 segmentation files have no WAV") && s.contains("50744_MV_9.tsv")), "{skipped:?}");

    // A patient with no recordings: counted, naming the patient and line.
    let dir = copy_of(&src);
    for loc in ["AV", "MV", "PV", "TV"] {
        std::fs::remove_file(audio(dir.path(), &format!("69060_{loc}.wav"))).unwrap();
    }
    let corpus = CirCor.load(dir.path()).unwrap();
    assert_eq!((corpus.examples.len(), corpus.patients().len()), (16, 7));
    assert!(
        corpus.warnings.iter().any(|w| w.starts_with("1 patients in the table have no recording") && w.contains("69060 at training_data.csv line 5")),
        "{:?}",
        corpus.warnings
    );

    // A malformed row: an error naming the file and its line.
    let dir = copy_of(&src);
    rewrite(&table(dir.path()), |t| t.replacen("85145,MV,", "85145,MV", 1));
    let message = error_of(CirCor.load(dir.path()));
    assert!(message.contains("training_data.csv: line 7:") && message.contains("fields where the header has"), "{message}");
    let dir = copy_of(&src);
    rewrite(&table(dir.path()), |t| t.replacen(",Unknown,", ",Maybe,", 1));
    let message = error_of(CirCor.load(dir.path()));
    assert!(message.contains("training_data.csv: line 5:") && message.contains("\"Maybe\" is not Present, Absent or Unknown"), "{message}");

    // A bad segmentation row: its file and line.
    let dir = copy_of(&src);
    let tsv = audio(dir.path(), "49966_MV.tsv");
    rewrite(&tsv, |t| {
        let mut lines: Vec<String> = t.lines().map(String::from).collect();
        lines[2] = "13.2\t13.3\t7".into();
        lines.join("\n")
    });
    let message = error_of(circor::segmentation(&tsv));
    assert!(message.contains("49966_MV.tsv: line 3: state \"7\" is not 0"), "{message}");

    // Not the layout at all: says what was expected.
    let message = error_of(CirCor.load(&data.join("icbhi")));
    assert!(message.contains("no training_data.csv beside a training_data/ folder"), "{message}");
}

#[test]
fn physionet2016_reads_six_sites_and_names_a_bad_reference_line() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("physionet2016");
    let corpus = PhysioNet2016.load(&dir).unwrap();
    assert_eq!(corpus.classes, ["normal", "abnormal"]);
    assert_eq!(corpus.class_counts(), [18, 18]);
    let sites: std::collections::BTreeSet<String> = corpus.examples.iter().map(|e| physionet2016::site(&e.path)).collect();
    assert_eq!(sites.len(), 6);
    assert!(corpus.examples.iter().all(|e| e.patient.starts_with(&physionet2016::site(&e.path))));
    let a0038 = corpus.examples.iter().find(|e| e.path.ends_with("training-a/a0038.wav")).unwrap();
    assert_eq!(corpus.classes[a0038.label], "normal", "REFERENCE.csv says a0038,-1");
    // One site's folder alone reads too.
    assert_eq!(PhysioNet2016.load(&dir.join("training-c")).unwrap().examples.len(), 6);

    let copy = copy_of(&dir);
    let reference: PathBuf = copy.path().join("training-b/REFERENCE.csv");
    rewrite(&reference, |t| t.replacen(",-1", ",0", 1));
    let message = error_of(PhysioNet2016.load(copy.path()));
    assert!(message.contains("training-b/REFERENCE.csv: line ") && message.contains("label \"0\" is not 1 (abnormal) or -1 (normal)"), "{message}");
    let copy = copy_of(&dir);
    std::fs::remove_file(copy.path().join("training-a/a0038.wav")).unwrap();
    let corpus = PhysioNet2016.load(copy.path()).unwrap();
    assert_eq!(corpus.examples.len(), 35);
    assert!(corpus.warnings.len() == 1 && corpus.warnings[0].starts_with("1 recordings in REFERENCE.csv have no WAV"), "{:?}", corpus.warnings);
}

/// `--hold-out-site`: a site's folder is the test side, named on the card,
/// and `eval --split test` scores exactly that site again.
#[test]
fn physionet2016_trains_with_one_site_held_out_and_eval_finds_it_again() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("physionet2016");
    let out = tempfile::tempdir().unwrap();
    let auscult = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"));
        c.env("AUSCULT_PLUGIN_PATH", common::plugin_dir());
        c
    };
    let card = out.path().join("m");
    let run = auscult()
        .args(["train", "--task", "heart-abnormal", "--hold-out-site", "training-c", "--epochs", "1", "--max-steps", "2", "--channels", "4,8", "--data"])
        .arg(&dir)
        .arg("--out")
        .arg(&card)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(card.join("card.toml")).unwrap();
    assert!(text.contains("split = \"site training-c held out\"") && text.contains("test_examples = 6"), "{text}");
    assert!(text.contains("--hold-out-site training-c"), "the card's command names the site: {text}");
    let eval = auscult()
        .args(["eval", "--split", "test", "--model"])
        .arg(card.join("card.toml"))
        .arg("--data")
        .arg(&dir)
        .arg("--plots")
        .arg(out.path())
        .arg("--predictions")
        .arg(out.path().join("p.csv"))
        .output()
        .unwrap();
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let rows = std::fs::read_to_string(out.path().join("p.csv")).unwrap();
    let files: Vec<&str> = rows.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(files.len(), 6);
    assert!(files.iter().all(|f| f.contains("/training-c/")), "{files:?}");
    // A site that is not there: the sites that are.
    let bad = auscult()
        .args(["train", "--task", "heart-abnormal", "--hold-out-site", "training-z", "--epochs", "1", "--data"])
        .arg(&dir)
        .arg("--out")
        .arg(out.path().join("z"))
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && message.contains("no recordings in a folder named \"training-z\"") && message.contains("training-a, training-b"),
        "{message}"
    );
}
