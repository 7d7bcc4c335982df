//! `counterpart check`: a health check of a stems set before it is used for training.
//!
//! For every piece: the files decode; formats, sample rates and channel counts are usable and
//! agree within the piece; the stems have equal lengths and are aligned (the onset envelopes of
//! each stem and of the sum of the others correlate best at lag ≈ 0); no stem is silent or nearly
//! so; the piece is long enough; the selected pairs exist. Every problem comes with an
//! explanation of what to do.

use std::fmt;
use std::path::PathBuf;

use crate::audio_file::AudioFile;
use crate::data::layout::{PairSelection, PieceSource, StemsSet};

/// Lowest sample rate the encoder's 16 kHz input can be made from without losing band.
pub const MIN_SAMPLE_RATE: u32 = 16_000;
/// Highest sample rate accepted (the preset format's limit).
pub const MAX_SAMPLE_RATE: u32 = counterpart_core::preset::MAX_SAMPLE_RATE;
/// Peak below which a stem counts as silent (−80 dBFS).
pub const SILENT_PEAK: f32 = 1e-4;
/// Envelope hop for the alignment check, in seconds.
const ENVELOPE_HOP_S: f64 = 0.01;
/// Largest lag searched by the alignment check, in seconds.
const MAX_LAG_S: f64 = 1.0;
/// A lag beyond this many seconds is reported.
pub const MAX_ALIGNMENT_LAG_S: f64 = 0.03;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Usable, but worth a look.
    Warning,
    /// The set cannot be used as it is.
    Error,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// The piece, if the problem is in one.
    pub piece: Option<String>,
    /// The stem, if the problem is in one.
    pub stem: Option<String>,
    /// What is wrong.
    pub problem: String,
    /// What to do about it.
    pub advice: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        let place = match (&self.piece, &self.stem) {
            (Some(p), Some(s)) => format!(" [{p}/{s}]"),
            (Some(p), None) => format!(" [{p}]"),
            _ => String::new(),
        };
        write!(f, "{tag}{place}: {}\n    → {}", self.problem, self.advice)
    }
}

/// What the check looks for.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Shortest usable piece, in seconds.
    pub min_seconds: f64,
    /// The pairs that will be used.
    pub selection: PairSelection,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            min_seconds: 5.0,
            selection: PairSelection::Primary,
        }
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Pieces looked at.
    pub pieces: usize,
    /// Stem files looked at.
    pub files: usize,
    /// Seconds of audio per piece, summed over pieces.
    pub seconds: f64,
    /// The problems found.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckReport {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

struct Sink<'a> {
    out: &'a mut Vec<Diagnostic>,
    piece: &'a str,
}

impl Sink<'_> {
    fn push(&mut self, severity: Severity, stem: Option<&str>, problem: String, advice: &str) {
        self.out.push(Diagnostic {
            severity,
            piece: Some(self.piece.to_string()),
            stem: stem.map(str::to_string),
            problem,
            advice: advice.to_string(),
        });
    }
}

/// Checks every piece of `set`.
pub fn check(set: &StemsSet, options: &CheckOptions) -> CheckReport {
    let mut report = CheckReport::default();
    for piece in &set.pieces {
        report.pieces += 1;
        report.files += piece.stems.iter().map(|s| s.files.len()).sum::<usize>();
        report.seconds += check_piece(piece, options, &mut report.diagnostics);
    }
    let usable = set
        .pieces
        .iter()
        .filter(|p| !p.pairs(&options.selection).is_empty())
        .count();
    if usable < 3 {
        report.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            piece: None,
            stem: None,
            problem: format!(
                "only {usable} piece(s) give a pair with the selected pairs; training needs at \
                 least 3 (training, validation and held-out evaluation are split by piece)"
            ),
            advice: "add pieces, or choose other pairs (--pairs all, --guide/--target)".into(),
        });
    }
    report
}

/// Checks one piece; returns its duration in seconds (0 when unreadable).
fn check_piece(piece: &PieceSource, options: &CheckOptions, out: &mut Vec<Diagnostic>) -> f64 {
    let mut sink = Sink {
        out,
        piece: &piece.id,
    };
    check_entries(piece, options, &mut sink);
    let stems = decode_stems(piece, &mut sink);
    let Some(rate) = common_rate(&stems, &mut sink) else {
        return 0.0;
    };
    let monos: Vec<(String, Vec<f32>)> = stems
        .iter()
        .map(|(n, a)| (n.clone(), a.to_mono()))
        .collect();
    let seconds = check_lengths(&monos, rate, options, &mut sink);
    check_levels(&monos, rate, &mut sink);
    check_alignment(&monos, rate, &mut sink);
    seconds
}

/// The piece's entries in the manifest: enough stems, pairs that name them, a pair in the
/// selection.
fn check_entries(piece: &PieceSource, options: &CheckOptions, sink: &mut Sink<'_>) {
    if piece.stems.len() < 2 {
        sink.push(
            Severity::Error,
            None,
            format!(
                "{} stem(s): a piece needs at least a guide and a target",
                piece.stems.len()
            ),
            "add the other stems of the piece, or remove the piece",
        );
    }
    for pair in &piece.pairs {
        for name in pair.a.names().iter().chain(pair.b.names().iter()) {
            if piece.stem(name).is_none() {
                sink.push(
                    Severity::Error,
                    Some(name),
                    "a pair in manifest.json names a stem the piece does not list".into(),
                    "fix the pair or add the stem to the piece's `stems`",
                );
            }
        }
    }
    if piece.pairs(&options.selection).is_empty() && piece.stems.len() >= 2 {
        sink.push(
            Severity::Warning,
            None,
            format!("no pair with the selection {:?}", options.selection),
            "the piece will be left out; name existing stems or use --pairs all",
        );
    }
}

/// Decodes every stem (its files summed); a stem that cannot be read, or holds samples that
/// cannot be used, is reported and left out.
fn decode_stems(piece: &PieceSource, sink: &mut Sink<'_>) -> Vec<(String, AudioFile)> {
    let mut stems: Vec<(String, AudioFile)> = Vec::new();
    for stem in &piece.stems {
        let mut files = Vec::new();
        let mut ok = true;
        for path in &stem.files {
            match AudioFile::read(path) {
                Ok(f) => files.push((path.clone(), f)),
                Err(e) => {
                    ok = false;
                    sink.push(
                        Severity::Error,
                        Some(&stem.name),
                        e.to_string(),
                        "re-export the file as WAV or FLAC (MP3 and Ogg Vorbis are read too)",
                    );
                }
            }
        }
        ok &= check_files(&stem.name, &files, sink);
        if !ok || files.is_empty() {
            continue;
        }
        match crate::data::layout::sum_audio(&piece.id, files) {
            Ok(a) => stems.push((stem.name.clone(), a)),
            Err(e) => sink.push(
                Severity::Error,
                Some(&stem.name),
                e.to_string(),
                "export all sub-stems of an instrument at one sample rate",
            ),
        }
    }
    stems
}

/// The decoded files of one stem: their rates, channels and samples. Returns whether they can
/// be used.
fn check_files(stem: &str, files: &[(PathBuf, AudioFile)], sink: &mut Sink<'_>) -> bool {
    let mut ok = true;
    for (path, f) in files {
        if f.sample_rate < MIN_SAMPLE_RATE {
            sink.push(
                Severity::Warning,
                Some(stem),
                format!(
                    "{} is at {} Hz, below the encoder's 16 kHz",
                    path.display(),
                    f.sample_rate
                ),
                "the upper band is missing; use a source at 16 kHz or more if you have one",
            );
        }
        if f.sample_rate > MAX_SAMPLE_RATE {
            ok = false;
            sink.push(
                Severity::Error,
                Some(stem),
                format!(
                    "{} Hz is above the {MAX_SAMPLE_RATE} Hz limit",
                    f.sample_rate
                ),
                "resample the file to 48 kHz or less",
            );
        }
        if f.channels > 2 {
            sink.push(
                Severity::Warning,
                Some(stem),
                format!("{} has {} channels", path.display(), f.channels),
                "it is mixed down to mono for analysis and corpus; export mono or stereo",
            );
        }
        if f.samples.iter().any(|x| !x.is_finite()) {
            ok = false;
            sink.push(
                Severity::Error,
                Some(stem),
                format!("{} holds NaN or infinite samples", path.display()),
                "re-render or re-export the file",
            );
        }
    }
    ok
}

/// The sample rate all stems share; `None` (after reporting it) when there are no stems or
/// their rates differ.
fn common_rate(stems: &[(String, AudioFile)], sink: &mut Sink<'_>) -> Option<u32> {
    if stems.is_empty() {
        return None;
    }
    let rate = stems[0].1.sample_rate;
    if let Some((name, a)) = stems.iter().find(|(_, a)| a.sample_rate != rate) {
        sink.push(
            Severity::Error,
            Some(name),
            format!("{} Hz, but {} is at {rate} Hz", a.sample_rate, stems[0].0),
            "all stems of a piece must share one sample rate: resample them to one",
        );
        return None;
    }
    Some(rate)
}

/// The stems' lengths: equal, and long enough. Returns the piece's duration in seconds.
fn check_lengths(
    monos: &[(String, Vec<f32>)],
    rate: u32,
    options: &CheckOptions,
    sink: &mut Sink<'_>,
) -> f64 {
    let lengths: Vec<usize> = monos.iter().map(|(_, m)| m.len()).collect();
    let (shortest, longest) = (
        *lengths.iter().min().expect("not empty"),
        *lengths.iter().max().expect("not empty"),
    );
    let seconds = longest as f64 / f64::from(rate);
    if longest != shortest {
        let diff_s = (longest - shortest) as f64 / f64::from(rate);
        let severity = if diff_s > 0.1 {
            Severity::Error
        } else {
            Severity::Warning
        };
        sink.push(
            severity,
            None,
            format!(
                "stem lengths differ by {diff_s:.3} s ({shortest} to {longest} samples): stems \
                 of a piece must start at the same instant and have the same length"
            ),
            "export every stem of the piece from the same start to the same end (pad with \
             silence); the shorter length is used",
        );
    }
    if seconds < options.min_seconds {
        sink.push(
            Severity::Error,
            None,
            format!(
                "the piece lasts {seconds:.2} s, less than {} s",
                options.min_seconds
            ),
            "use longer pieces: a piece gives one token per segment",
        );
    }
    seconds
}

/// Each stem's level: not silent, not mostly silent, not clipping.
fn check_levels(monos: &[(String, Vec<f32>)], rate: u32, sink: &mut Sink<'_>) {
    for (name, m) in monos {
        let peak = m.iter().fold(0f32, |p, x| p.max(x.abs()));
        if peak < SILENT_PEAK {
            sink.push(
                Severity::Error,
                Some(name),
                format!(
                    "the stem is silent (peak {:.1} dBFS)",
                    20.0 * peak.max(1e-12).log10()
                ),
                "remove the stem, or check the export (muted track, wrong bus)",
            );
            continue;
        }
        let active = active_fraction(m, rate);
        if active < 0.1 {
            sink.push(
                Severity::Warning,
                Some(name),
                format!(
                    "the stem sounds in only {:.0}% of the piece",
                    active * 100.0
                ),
                "mostly silent stems teach the model little; consider leaving the stem out",
            );
        }
        let clipped = m.iter().filter(|x| x.abs() >= 0.999).count() as f64 / m.len() as f64;
        if clipped > 1e-3 {
            sink.push(
                Severity::Warning,
                Some(name),
                format!(
                    "{:.2}% of the samples are at full scale (clipping)",
                    clipped * 100.0
                ),
                "export with headroom (peaks at −1 dBFS or below)",
            );
        }
    }
}

/// Whether each stem's onsets line up with the other stems' (an offset export shows as a lag).
fn check_alignment(monos: &[(String, Vec<f32>)], rate: u32, sink: &mut Sink<'_>) {
    if monos.len() >= 2 {
        let envelopes: Vec<Vec<f32>> = monos.iter().map(|(_, m)| onset_envelope(m, rate)).collect();
        for (i, (name, _)) in monos.iter().enumerate() {
            let n = envelopes.iter().map(Vec::len).min().unwrap_or(0);
            let others: Vec<f32> = (0..n)
                .map(|t| {
                    envelopes
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, e)| e[t])
                        .sum()
                })
                .collect();
            let max_lag = (MAX_LAG_S / ENVELOPE_HOP_S) as isize;
            if let Some((lag, corr)) = best_lag(&envelopes[i][..n], &others, max_lag) {
                let lag_s = lag as f64 * ENVELOPE_HOP_S;
                if corr > 0.2 && lag_s.abs() > MAX_ALIGNMENT_LAG_S {
                    sink.push(
                        Severity::Warning,
                        Some(name),
                        format!(
                            "the stem's onsets line up best with the other stems when shifted by \
                             {:+.0} ms (correlation {corr:.2}): it looks offset",
                            lag_s * 1000.0
                        ),
                        "export all stems of the piece from the same start position, with no \
                         latency compensation differences",
                    );
                }
            }
        }
    }
}

/// Share of 50 ms frames whose RMS is above −50 dBFS.
fn active_fraction(x: &[f32], rate: u32) -> f64 {
    let hop = (rate as usize / 20).max(1);
    let frames: Vec<f32> = x
        .chunks(hop)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let threshold = 10f32.powf(-50.0 / 20.0);
    frames.iter().filter(|&&r| r > threshold).count() as f64 / frames.len().max(1) as f64
}

/// Positive changes of the log RMS envelope at a 10 ms hop.
fn onset_envelope(x: &[f32], rate: u32) -> Vec<f32> {
    let hop = ((f64::from(rate) * ENVELOPE_HOP_S) as usize).max(1);
    let log_rms: Vec<f32> = x
        .chunks(hop)
        .map(|c| ((c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt() + 1e-4).ln())
        .collect();
    std::iter::once(0.0)
        .chain(log_rms.windows(2).map(|w| (w[1] - w[0]).max(0.0)))
        .collect()
}

/// The lag (in hops, within ±`max_lag`) maximising the normalised cross-correlation of `a`
/// shifted against `b`, with that correlation; `None` when either is flat.
fn best_lag(a: &[f32], b: &[f32], max_lag: isize) -> Option<(isize, f64)> {
    let n = a.len().min(b.len());
    let centred = |x: &[f32]| {
        let mean = x[..n].iter().map(|&v| f64::from(v)).sum::<f64>() / n.max(1) as f64;
        x[..n]
            .iter()
            .map(|&v| f64::from(v) - mean)
            .collect::<Vec<f64>>()
    };
    let (a, b) = (centred(a), centred(b));
    let norm = (a.iter().map(|v| v * v).sum::<f64>() * b.iter().map(|v| v * v).sum::<f64>()).sqrt();
    if norm <= 1e-12 {
        return None;
    }
    let mut best = (0isize, f64::NEG_INFINITY);
    for lag in -max_lag..=max_lag {
        let mut s = 0.0;
        for (t, &av) in a.iter().enumerate() {
            let u = t as isize + lag;
            if (0..n as isize).contains(&u) {
                s += av * b[u as usize];
            }
        }
        // Prefer the smallest lag among equal correlations.
        if s > best.1 + 1e-12 || (s >= best.1 - 1e-12 && lag.abs() < best.0.abs()) {
            best = (lag, s);
        }
    }
    Some((best.0, best.1 / norm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_lag_finds_a_shift() {
        let a: Vec<f32> = (0..500)
            .map(|i| if i % 37 == 0 { 1.0 } else { 0.0 })
            .collect();
        let mut b = vec![0.0f32; 500];
        b[10..500].copy_from_slice(&a[..490]);
        let (lag, corr) = best_lag(&a, &b, 30).unwrap();
        assert_eq!(lag, 10);
        assert!(corr > 0.9);
        assert_eq!(best_lag(&a, &a, 30).unwrap().0, 0);
        assert!(best_lag(&vec![0.0; 100], &a, 5).is_none());
    }
}
