//! `counterpart render` and `counterpart inspect` on a synthetic preset: files written, CSV of
//! played segments, determinism for a seed.
//!
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

#[path = "../../inference-core/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use counterpart_core::engine::{EngineSettings, WorkerMargin};
use counterpart_models::audio_file::{write_wav, SampleFormat};

fn write_guide(path: &Path, rate: u32) {
    let left = common::melody(rate, 4.0, 0.25, 21);
    let scaled = |gain: f32| -> Vec<f32> { left.iter().map(|x| x * gain / 32_767.0).collect() };
    let channels = [scaled(30_000.0), scaled(20_000.0)];
    write_wav(path, rate, &channels, SampleFormat::Int16).unwrap();
}

/// A fresh folder holding the synthetic preset (`tones.cpreset`) and a 32 kHz guide
/// (`guide.wav`).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cp-render-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    common::synthetic_preset(1, false)
        .save(dir.join("tones.cpreset"))
        .unwrap();
    write_guide(&dir.join("guide.wav"), 32_000);
    dir
}

fn run(args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_counterpart"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "counterpart {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn render_writes_the_companion_the_mix_and_the_segments_deterministically() {
    let dir = scratch("cli");
    let p = |name: &str| -> PathBuf { dir.join(name) };
    let encoder_dir = common::encoder_dir();
    let render = |out: &str, csv: &str, block: &str| {
        run(&[
            "render",
            "--preset",
            p("tones.cpreset").to_str().unwrap(),
            "--guide",
            p("guide.wav").to_str().unwrap(),
            "-o",
            p(out).to_str().unwrap(),
            "--mix",
            p("mix.wav").to_str().unwrap(),
            "--segments-out",
            p(csv).to_str().unwrap(),
            "--seed",
            "5",
            "--temperature",
            "1.0",
            "--block-size",
            block,
            "--encoder-dir",
            encoder_dir.to_str().unwrap(),
        ])
    };
    let output = render("b1.wav", "s1.csv", "256");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("real time"), "{stdout}");
    render("b2.wav", "s2.csv", "1000");

    let b = hound::WavReader::open(p("b1.wav")).unwrap();
    assert_eq!(b.spec().sample_rate, 32_000);
    assert_eq!(b.spec().channels, 1);
    assert_eq!(b.spec().sample_format, hound::SampleFormat::Float);
    let samples: Vec<f32> = b.into_samples().map(Result::unwrap).collect();
    assert_eq!(samples.len(), 4 * 32_000);
    assert!(samples.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
    assert!(samples.iter().any(|x| x.abs() > 0.05));
    let mix = hound::WavReader::open(p("mix.wav")).unwrap();
    assert_eq!(mix.spec().channels, 2);

    // Same seed, other block size: the very same files.
    assert_eq!(
        std::fs::read(p("b1.wav")).unwrap(),
        std::fs::read(p("b2.wav")).unwrap()
    );
    let csv = std::fs::read_to_string(p("s1.csv")).unwrap();
    assert_eq!(csv, std::fs::read_to_string(p("s2.csv")).unwrap());
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("output_s,label,source_file,source_s"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 12, "{} rows", rows.len());
    let mut previous = -1.0;
    for row in &rows {
        let at: f64 = row[0].parse().unwrap();
        // Lined up with the guide (its notes start every 0.25 s from 0): in the guide's time.
        assert!((0.0..4.0).contains(&at) && at >= previous, "{row:?}");
        previous = at;
        let label: u32 = row[1].parse().unwrap();
        assert!(label < common::K as u32);
        assert_eq!(row[2], "tones.wav");
        let source: f64 = row[3].parse().unwrap();
        assert!((0.0..8.0).contains(&source));
    }

    assert!(rows[0][0].parse::<f64>().unwrap() < 0.02, "{:?}", rows[0]);

    let inspect = run(&["inspect", p("tones.cpreset").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("synthetic tones"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 120), "{text}");
    let json = run(&["inspect", "--json", p("tones.cpreset").to_str().unwrap()]);
    let header: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(header["info"]["name"], "synthetic tones");
    assert!(header.get("metrics").is_some(), "{header}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The default render is the raw stream moved back by exactly the reported latency, and its
/// first segment starts at 0 (on the segment grid); the raw one starts at the latency.
#[test]
fn render_lines_the_companion_up_with_the_guide_by_the_reported_latency() {
    let dir = scratch("latency");
    let p = |name: &str| -> PathBuf { dir.join(name) };
    let encoder_dir = common::encoder_dir();
    let render = |out: &str, csv: &str, raw: bool| {
        let path = |name: &str| p(name).to_str().unwrap().to_owned();
        let mut args: Vec<String> = vec![
            "render".into(),
            "--preset".into(),
            path("tones.cpreset"),
            "--guide".into(),
            path("guide.wav"),
            "-o".into(),
            path(out),
            "--segments-out".into(),
            path(csv),
            "--follow-onsets".into(),
            "false".into(),
            "--encoder-dir".into(),
            encoder_dir.to_str().unwrap().to_owned(),
        ];
        if raw {
            args.push("--no-latency-compensation".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        String::from_utf8_lossy(&run(&args).stdout).into_owned()
    };
    let said = render("lined.wav", "lined.csv", false);
    assert!(said.contains("lined up with the guide"), "{said}");
    let said = render("raw.wav", "raw.csv", true);
    assert!(said.contains("raw stream"), "{said}");
    let read = |name: &str| -> Vec<f32> {
        hound::WavReader::open(p(name))
            .unwrap()
            .into_samples()
            .map(Result::unwrap)
            .collect()
    };
    let (lined, raw) = (read("lined.wav"), read("raw.wav"));
    assert_eq!(lined.len(), raw.len());
    // One 0.25 s segment, the margin fitted to 512-frame blocks and the half-segment onset
    // shift at 32 kHz.
    let margin = WorkerMargin::for_host(512, 32_000, EngineSettings::default().crossfade_seconds)
        .unwrap()
        .seconds();
    let latency = 8000 + (margin * 32_000.0).round() as usize + 4000;
    assert_eq!(lined[..raw.len() - latency], raw[latency..]);
    assert!(lined[raw.len() - latency..].iter().any(|x| x.abs() > 0.01));
    let first = |name: &str| -> f64 {
        let csv = std::fs::read_to_string(p(name)).unwrap();
        csv.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(first("lined.csv"), 0.0);
    assert!((first("raw.csv") - latency as f64 / 32_000.0).abs() < 1e-6);
    std::fs::remove_dir_all(&dir).unwrap();
}
