//! `counterpart render` and `counterpart inspect` on a synthetic preset: files written, CSV of
//! played segments, determinism for a seed.
//!
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

#[path = "../../inference-core/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn write_guide(path: &Path, rate: u32) {
    let left = common::melody(rate, 4.0, 0.25, 21);
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &x in &left {
        w.write_sample((x * 30_000.0) as i16).unwrap();
        w.write_sample((x * 20_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
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
    let dir = std::env::temp_dir().join(format!("cp-render-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| -> PathBuf { dir.join(name) };
    common::synthetic_preset(1, false)
        .save(p("tones.cpreset"))
        .unwrap();
    write_guide(&p("guide.wav"), 32_000);
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
    for (i, row) in rows.iter().enumerate() {
        let at: f64 = row[0].parse().unwrap();
        // L = 1: slot i starts one segment after guide segment i, plus the worker margin.
        assert!(
            (at - (i as f64 + 1.0) * 0.25 - 0.12).abs() < 1e-4,
            "{row:?}"
        );
        let label: u32 = row[1].parse().unwrap();
        assert!(label < common::K as u32);
        assert_eq!(row[2], "tones.wav");
        let source: f64 = row[3].parse().unwrap();
        assert!((0.0..8.0).contains(&source));
    }

    let inspect = run(&["inspect", p("tones.cpreset").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("synthetic tones"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
