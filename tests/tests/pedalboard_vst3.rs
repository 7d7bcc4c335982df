//! The bundled `Counterpart.vst3` hosted by a second VST3 host: pedalboard (Spotify's JUCE-based
//! audio library for Python), driven by `tests/pedalboard/render_vst3.py` in the virtual
//! environment that `scripts/install-pedalboard.sh` makes (pedalboard from PyPI).
//!
//! pedalboard renders offline (it announces kOffline in `setupProcessing` and in every process
//! call), gives the plugin no transport (no play head: position 0, not playing, for the whole
//! render), re-activates the plugin for each render and compensates the latency the plugin
//! reports (the script's docstring says how). The demo guide at 48 kHz with 2 s of silence after
//! it is rendered in 512-frame blocks, fully wet (Dry/Wet 100 %), with Play When Stopped on (so
//! that the stopped transport does not hold the engine), in Aligned and in Live mode with seed
//! 1: the plugin is loaded, deactivated (`plugin.reset()`: the plugin fixes its latency
//! at activation, and pedalboard leaves it active after loading), its parameters are set, and
//! `process` renders. Checked:
//!
//! * the latency pedalboard reads from the plugin after the render is the one
//!   `counterpart render` reports for those settings and blocks;
//! * the output equals `counterpart render` of the same guide with the same settings and seed
//!   (the plugin's stream, shifted back by the latency the plugin reports, as pedalboard does)
//!   to within 1e-6;
//! * the plugin's state (pedalboard's `raw_state`), loaded into a new instance, holds the same
//!   parameters and renders the same output;
//! * no error line from the plugin on pedalboard's stderr (nice-plug's two debug-assertion
//!   warnings about the sidechain bus, which pedalboard disables, are counted and allowed).
//!
//! Every failure of a mode is collected and reported together. Needs python3 with venv
//! (`scripts/install-system-deps.sh`) and PyPI the first time (the environment is kept in
//! `target/pedalboard-venv`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{render_as_the_plugin, repo};
use counterpart_core::action::resample_channels;
use counterpart_models::audio_file::{write_wav, AudioFile, SampleFormat};
use counterpart_tests::{bundled_vst3, rms};

const RATE: u32 = 48_000;
/// pedalboard's `buffer_size`: the largest block it sends.
const BLOCK: usize = 512;
/// Seconds of silence after the guide.
const TAIL_S: usize = 2;
/// The seed set (the plugin's default: `counterpart render`'s reference uses the defaults).
const SEED: u32 = 1;
/// The largest difference allowed between pedalboard's output and `counterpart render`.
const TOLERANCE: f32 = 1e-6;
/// nice-plug's debug-build warnings about the sidechain bus that pedalboard disables (no
/// channel pointers, and storage left at the previous block's length in the last, shorter
/// block): the wrapper fills the bus with zeroes, which the plugin does not read in "Main
/// input" mode.
const KNOWN_WRAPPER_WARNINGS: [&str; 2] = [
    "Debug assertion failed: input_channel_pointers.is_some()",
    "Debug assertion failed: slice.len() != num_samples",
];

/// Runs `scripts/install-pedalboard.sh` and returns the environment's python.
fn install_pedalboard() -> PathBuf {
    let output = Command::new("bash")
        .arg(repo().join("scripts/install-pedalboard.sh"))
        .output()
        .expect("cannot run bash scripts/install-pedalboard.sh");
    assert!(
        output.status.success(),
        "scripts/install-pedalboard.sh failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let python = PathBuf::from(stdout.lines().next_back().unwrap_or_default().trim());
    assert!(
        python.is_file(),
        "scripts/install-pedalboard.sh printed no python: {stdout}"
    );
    python
}

/// The demo guide at 48 kHz with `TAIL_S` of silence after it, as a mono 32-bit float WAV.
fn write_guide(path: &Path) -> usize {
    let file = AudioFile::read(&repo().join("demo/guide.flac")).expect("demo/guide.flac");
    let mut guide = resample_channels(vec![file.to_mono()], file.sample_rate, RATE)
        .expect("resampling the guide")
        .remove(0);
    let sung = guide.len();
    guide.resize(sung + TAIL_S * RATE as usize, 0.0);
    write_wav(path, RATE, &[guide], SampleFormat::Float32).expect("writing the guide");
    sung
}

/// What one run of `render_vst3.py` printed and wrote.
struct PedalboardRun {
    stdout: String,
    stderr: String,
    seconds: f64,
}

impl PedalboardRun {
    /// The value of the first `CP <key> ` line.
    fn value(&self, key: &str) -> &str {
        let prefix = format!("CP {key} ");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{key}` in render_vst3.py's output:\n{}", self.stdout))
            .trim()
    }

    fn number(&self, key: &str) -> usize {
        self.value(key)
            .parse()
            .unwrap_or_else(|_| panic!("`{key}` is not a number: {}", self.value(key)))
    }
}

/// Runs `render_vst3.py` on the bundle with `params` (display name → value, as JSON).
fn pedalboard_render(
    python: &Path,
    guide: &Path,
    out_dir: &Path,
    params: &serde_json::Value,
) -> PedalboardRun {
    let started = Instant::now();
    let output = Command::new(python)
        .arg(repo().join("tests/pedalboard/render_vst3.py"))
        .arg(bundled_vst3())
        .arg(guide)
        .arg(out_dir)
        .arg("--params")
        .arg(params.to_string())
        .arg("--buffer-size")
        .arg(BLOCK.to_string())
        .output()
        .expect("cannot run the pedalboard environment's python");
    let run = PedalboardRun {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        seconds: started.elapsed().as_secs_f64(),
    };
    assert!(
        output.status.success() && run.stdout.contains("CP done ok"),
        "render_vst3.py failed ({}):\n{}\n{}",
        output.status,
        run.stdout,
        run.stderr
    );
    run
}

/// The channels of a WAV file, de-interleaved.
fn read_channels(path: &Path) -> Vec<Vec<f32>> {
    let file = AudioFile::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(file.sample_rate, RATE, "{}", path.display());
    channels(&file)
}

/// The channels of `file`, de-interleaved.
fn channels(file: &AudioFile) -> Vec<Vec<f32>> {
    (0..file.channels)
        .map(|c| {
            file.samples
                .chunks(file.channels)
                .map(|frame| frame[c])
                .collect()
        })
        .collect()
}

/// The largest difference between `a[t]` and `b[t + shift]`, channel by channel, as far as
/// both reach.
fn largest_difference(a: &[Vec<f32>], b: &[Vec<f32>], shift: usize) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            x.iter()
                .zip(y.get(shift..).unwrap_or_default())
                .map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

/// The error lines of the plugin (and its wrapper) in pedalboard's stderr, and how many of
/// nice-plug's known sidechain warnings it holds.
fn error_lines(stderr: &str) -> (Vec<&str>, usize) {
    let mut errors = Vec::new();
    let mut known = 0;
    for line in stderr.lines() {
        if KNOWN_WRAPPER_WARNINGS.iter().any(|w| line.ends_with(w)) {
            known += 1;
            continue;
        }
        let lower = line.to_lowercase();
        let error = line.contains(" ERROR ")
            || lower.contains("panic")
            || lower.contains("debug assertion failed")
            || lower.contains("traceback")
            || (lower.contains("counterpart")
                && (lower.contains("error") || lower.contains("fail")));
        if error {
            errors.push(line);
        }
    }
    (errors, known)
}

#[test]
fn the_vst3_in_pedalboard_renders_counterpart_render_and_reloads_its_state() {
    let started = Instant::now();
    let python = install_pedalboard();
    let dir = std::env::temp_dir().join(format!("cp-pedalboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let guide_path = dir.join("guide48.wav");
    let sung = write_guide(&guide_path);

    let mut failures = Vec::new();
    for (mode, lookahead) in [("Aligned", 1usize), ("Live", 0)] {
        let mode_dir = dir.join(mode.to_lowercase());
        let params = serde_json::json!({
            "Look-ahead": mode,
            "Seed": SEED,
            "Dry/Wet": "100 %",
            // pedalboard has no timeline: it reports a transport stopped at 0.
            "Play When Stopped": true,
        });
        let run = pedalboard_render(&python, &guide_path, &mode_dir, &params);
        let mut fail = |what: String| failures.push(format!("{mode}: {what}"));

        // What the host shows: the plugin, its parameters, and the values it took.
        assert_eq!(run.value("plugin_name"), "Counterpart");
        assert_eq!(run.number("param_count"), 18);
        for name in ["Look-ahead", "Seed", "Dry/Wet", "Play When Stopped"] {
            assert!(
                run.stdout.lines().any(|l| l == format!("CP param {name}")),
                "{mode}: no parameter {name}:\n{}",
                run.stdout
            );
        }
        let set = |name: &str| run.value(&format!("set {name}")).to_owned();
        assert!(
            set("Look-ahead").starts_with(mode),
            "{mode}: {}",
            set("Look-ahead")
        );
        assert_eq!(set("Seed"), SEED.to_string());
        assert_eq!(set("Dry/Wet"), "100");
        for name in ["Look-ahead", "Seed", "Dry/Wet"] {
            let reloaded = run.value(&format!("reloaded {name}"));
            if reloaded != set(name) {
                fail(format!(
                    "the reloaded state has {name} = {reloaded}, not {}",
                    set(name)
                ));
            }
        }

        // `counterpart render` of the same guide, settings and seed, in the same blocks: the
        // plugin's own stream, before the host moves it.
        let t = Instant::now();
        let (report, file) = render_as_the_plugin(
            &guide_path,
            &mode_dir.join("render.wav"),
            Some(lookahead),
            BLOCK,
            None,
        );
        let render_s = t.elapsed().as_secs_f64();
        assert_eq!(file.sample_rate, RATE);
        let companion = channels(&file);
        let expected_latency = report.latency_samples as usize;
        let latency = run.number("latency");
        let reloaded_latency = run.number("latency_reloaded");
        if latency != expected_latency {
            fail(format!(
                "pedalboard reads latency {latency} after the render, counterpart render reports \
                 {expected_latency} (parameters set after loading reach the plugin only in the \
                 render's first block: pedalboard leaves it processing after its load-time checks)"
            ));
        }
        if reloaded_latency != expected_latency {
            fail(format!(
                "the reloaded instance reports latency {reloaded_latency}, not {expected_latency}"
            ));
        }

        let out = read_channels(&mode_dir.join("out.wav"));
        let reloaded = read_channels(&mode_dir.join("reloaded.wav"));
        assert_eq!(out.len(), 2, "{mode}: pedalboard's output is not stereo");
        assert_eq!(out[0].len(), sung + TAIL_S * RATE as usize);
        assert_eq!(reloaded.len(), 2);
        assert_eq!(reloaded[0].len(), out[0].len());
        // Mono corpora render one channel: the plugin plays it on both.
        let companion: Vec<Vec<f32>> = (0..2)
            .map(|c| companion[c.min(companion.len() - 1)].clone())
            .collect();
        // The whole output, tail included, as far as the shifted reference reaches: the guide
        // at least.
        let compared = out[0].len().min(companion[0].len().saturating_sub(latency));
        if compared <= sung {
            fail(format!(
                "with latency {latency}, counterpart render's stream ends before the guide does"
            ));
        }
        let worst = largest_difference(&out, &companion, latency);
        let worst_reloaded = largest_difference(&reloaded, &companion, reloaded_latency);
        let worst_expected = largest_difference(&out, &companion, expected_latency);
        let between = largest_difference(&out, &reloaded, 0);
        let (errors, known) = error_lines(&run.stderr);
        let offline_lines = run
            .stderr
            .lines()
            .filter(|l| l.to_lowercase().contains("offline"))
            .count();
        println!(
            "pedalboard {}, {mode}: latency {latency} (before the render {}, reloaded \
             {reloaded_latency}, counterpart render {expected_latency}); output vs counterpart render shifted by \
             the latency: largest deviation {worst:e} (by the expected latency {worst_expected:e}; \
             reloaded {worst_reloaded:e}; output vs reloaded {between:e}); RMS output {:.4}, \
             reloaded {:.4}, counterpart render {:.4}; state {}; nice-plug sidechain warnings \
             {known}; plugin log lines saying offline {offline_lines}; pedalboard run {:.1} s, \
             counterpart render {render_s:.1} s",
            run.value("pedalboard_version"),
            run.value("latency_before"),
            rms(&out[0]),
            rms(&reloaded[0]),
            rms(&companion[0]),
            run.value("state"),
            run.seconds,
        );
        if rms(&companion[0]) <= 0.01 {
            fail("counterpart render's companion is silent".into());
        }
        if rms(&out[0]) <= 0.01 {
            fail(
                "pedalboard's output is silent: the companion did not play (pedalboard gives \
                 no transport: every block says position 0, not playing)"
                    .into(),
            );
        }
        if worst >= TOLERANCE {
            fail(format!(
                "pedalboard's output differs from counterpart render by up to {worst}"
            ));
        }
        if worst_reloaded >= TOLERANCE {
            fail(format!(
                "the reloaded state's output differs from counterpart render by up to \
                 {worst_reloaded}"
            ));
        }
        if between >= TOLERANCE {
            fail(format!(
                "the reloaded state's output differs from the first render by up to {between}"
            ));
        }
        if !errors.is_empty() {
            fail(format!(
                "error lines in pedalboard's stderr:\n{}",
                errors.join("\n")
            ));
        }
    }
    println!(
        "pedalboard test: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "the VST3 in pedalboard:\n{}",
        failures.join("\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
