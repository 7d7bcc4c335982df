//! A human-readable overview of a preset, for `counterpart inspect` and the plugin's GUI.

use std::fmt;

use super::data::{Preset, RelationCharacter, SegmentationSettings};
use super::safetensors_guard::parse_safetensors;

/// What a preset holds, in numbers: see [`Preset::summary`]. Its `Display` prints one fact per
/// line.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetSummary {
    /// The preset's name.
    pub name: String,
    /// Its author.
    pub author: String,
    /// Its licence.
    pub licence: String,
    /// When it was made.
    pub created: String,
    /// Its description.
    pub description: String,
    /// The alphabet size K.
    pub k: usize,
    /// The codebook dimension.
    pub codebook_dim: usize,
    /// The segmentation settings.
    pub segmentation: SegmentationSettings,
    /// The encoder's name.
    pub encoder_name: String,
    /// SHA-256 of the encoder's ONNX file.
    pub encoder_sha256: String,
    /// The encoder layer used.
    pub encoder_layer: u32,
    /// Size of the embedded encoder in bytes, if embedded.
    pub encoder_embedded_bytes: Option<usize>,
    /// Number of values in the preferred (first) decision model's weights.
    pub decision_parameters: u64,
    /// Size of all decision models' weights blobs in bytes.
    pub decision_bytes: usize,
    /// Look-ahead of each decision model, in stored order (`None` where the config names none).
    pub decision_lookaheads: Vec<Option<usize>>,
    /// Number of corpus recordings.
    pub corpus_files: usize,
    /// Total corpus duration in seconds.
    pub corpus_seconds: f64,
    /// Total number of segments.
    pub segments: usize,
    /// How many segments carry each label, indexed by label (K entries).
    pub label_counts: Vec<usize>,
    /// The top-level metrics, as `(name, value)` in the order the JSON object keeps them.
    pub metrics: Vec<(String, serde_json::Value)>,
    /// The relation's character, when the preset holds it.
    pub character: Option<RelationCharacter>,
}

impl PresetSummary {
    /// Number of distinct labels the corpus uses.
    pub fn labels_used(&self) -> usize {
        self.label_counts.iter().filter(|&&count| count > 0).count()
    }
}

impl Preset {
    /// Summarises the preset: identity, settings, model size, corpus and label usage, metrics.
    pub fn summary(&self) -> PresetSummary {
        let mut label_counts = vec![0; self.k()];
        for segment in self.corpus.iter().flat_map(|file| &file.segments) {
            if let Some(count) = label_counts.get_mut(segment.label as usize) {
                *count += 1;
            }
        }
        let decision_parameters = self
            .decisions
            .first()
            .and_then(|d| parse_safetensors(&d.weights).ok())
            .map(|weights| {
                weights
                    .iter()
                    .map(|(_, view)| view.shape().iter().map(|&d| d as u64).product::<u64>())
                    .sum()
            })
            .unwrap_or(0);
        let metrics = self
            .metrics
            .as_object()
            .map(|object| {
                object
                    .iter()
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        PresetSummary {
            name: self.info.name.clone(),
            author: self.info.author.clone(),
            licence: self.info.licence.clone(),
            created: self.info.created.clone(),
            description: self.info.description.clone(),
            k: self.k(),
            codebook_dim: self.codebook.dim,
            segmentation: self.segmentation.clone(),
            encoder_name: self.encoder.name.clone(),
            encoder_sha256: self.encoder.sha256.clone(),
            encoder_layer: self.encoder.layer,
            encoder_embedded_bytes: self.encoder.embedded.as_ref().map(Vec::len),
            decision_parameters,
            decision_bytes: self.decisions.iter().map(|d| d.weights.len()).sum(),
            decision_lookaheads: self.decisions.iter().map(|d| d.lookahead()).collect(),
            corpus_files: self.corpus.len(),
            corpus_seconds: self.corpus.iter().map(|f| f.duration_seconds()).sum(),
            segments: self.corpus.iter().map(|f| f.segments.len()).sum(),
            label_counts,
            metrics,
            character: self.character.clone(),
        }
    }
}

/// The baselines of a preset's held-out evaluation metrics, in report order (`counterpart eval`
/// writes them).
pub const EVAL_BASELINES: [&str; 6] = [
    "uniform",
    "histogram",
    "present",
    "majority",
    "copy_a",
    "shuffled",
];

/// The longest line [`PresetSummary`]'s `Display` prints.
pub const MAX_LINE: usize = 120;

/// Width of the name column.
const INDENT: usize = 14;

impl fmt::Display for PresetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "name:         {}", self.name)?;
        writeln!(f, "author:       {}", self.author)?;
        writeln!(f, "licence:      {}", self.licence)?;
        writeln!(f, "created:      {}", self.created)?;
        if !self.description.is_empty() {
            wrapped(f, "description:", &self.description)?;
        }
        let settings = &self.segmentation;
        write!(f, "segmentation: {}", settings.length)?;
        if let Some(snap) = settings.onset_snap_seconds {
            write!(f, ", onsets snapped within {snap} s")?;
        }
        writeln!(f, ", analysed at {} Hz", settings.analysis_sample_rate)?;
        writeln!(
            f,
            "codebook:     K = {}, {} dimensions",
            self.k, self.codebook_dim
        )?;
        write!(
            f,
            "encoder:      {} (layer {})",
            self.encoder_name, self.encoder_layer
        )?;
        match self.encoder_embedded_bytes {
            Some(bytes) => writeln!(f, ", embedded ({})", Bytes(bytes))?,
            None => writeln!(f, ", not embedded")?,
        }
        writeln!(f, "encoder hash: SHA-256 {}", self.encoder_sha256)?;
        let lookaheads: Vec<String> = self
            .decision_lookaheads
            .iter()
            .map(|l| l.map_or_else(|| "?".into(), |l| l.to_string()))
            .collect();
        writeln!(
            f,
            "decision:     {} model(s), look-ahead {} (the first is the default), {} parameters \
             in the first, {} in all",
            self.decision_lookaheads.len(),
            lookaheads.join(", "),
            self.decision_parameters,
            Bytes(self.decision_bytes)
        )?;
        writeln!(
            f,
            "corpus:       {} file(s), {:.1} s, {} segments",
            self.corpus_files, self.corpus_seconds, self.segments
        )?;
        write!(f, "labels:       {} of {} used", self.labels_used(), self.k)?;
        let busiest = self
            .label_counts
            .iter()
            .enumerate()
            .max_by_key(|&(label, &count)| (count, std::cmp::Reverse(label)));
        match busiest {
            Some((label, &count)) if self.segments > 0 => writeln!(
                f,
                "; label {label} is the most frequent ({:.1}% of segments)",
                100.0 * count as f64 / self.segments as f64
            )?,
            _ => writeln!(f)?,
        }
        if let Some(character) = &self.character {
            write!(f, "{character}")?;
        }
        for (name, value) in &self.metrics {
            match name.as_str() {
                "eval" => eval_table(f, value)?,
                "training" => training_lines(f, value)?,
                "timing_s" => timing_line(f, value)?,
                _ if !value.is_object() && !value.is_array() => {
                    wrapped(f, "metric:", &format!("{name} = {}", scalar(value)))?
                }
                _ => {
                    let mut leaves = Vec::new();
                    flatten("", value, &mut leaves);
                    // The codebook's fit, not the codebook line above.
                    let label = if name == "codebook" { "k-means" } else { name };
                    wrapped(f, &format!("{label}:"), &leaves.join(", "))?;
                }
            }
        }
        Ok(())
    }
}

/// The relation's character as one block of lines, as `counterpart inspect` prints it: what it
/// was measured on, then the figures.
impl fmt::Display for RelationCharacter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        character_block(f, self)
    }
}

fn character_block(f: &mut fmt::Formatter<'_>, c: &RelationCharacter) -> fmt::Result {
    let share = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"));
    writeln!(
        f,
        "character:    how B moves against A, measured on {} pair(s), {:.1} s of notes",
        c.pairs, c.seconds
    )?;
    let pad = " ".repeat(INDENT);
    writeln!(
        f,
        "{pad}onset coincidence {} (B's onsets within 60 ms of A's), A onset coverage {}",
        share(c.onset_coincidence),
        share(c.a_onset_coverage)
    )?;
    writeln!(
        f,
        "{pad}note rate {:.2} /s (A {:.2} /s, ratio {})",
        c.b_onsets_per_s,
        c.a_onsets_per_s,
        c.note_rate_ratio
            .map_or_else(|| "n/a".to_owned(), |r| format!("{r:.3}"))
    )?;
    writeln!(
        f,
        "{pad}presence {} (of A's sounding time), B sounds {} of the time",
        share(c.presence),
        share(c.b_sounding)
    )?;
    writeln!(
        f,
        "{pad}changes within a beat {} (of {} beats where B starts a note)",
        share(c.changes_within_beat),
        c.b_beats
    )
}

/// Writes `text` after `label`, wrapped at word boundaries to [`MAX_LINE`] characters, the
/// continuation lines indented under the text.
fn wrapped(f: &mut fmt::Formatter<'_>, label: &str, text: &str) -> fmt::Result {
    let mut line = format!("{label:<INDENT$}");
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > MAX_LINE {
            writeln!(f, "{}", line.trim_end())?;
            line = " ".repeat(INDENT);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    writeln!(f, "{}", line.trim_end())
}

/// `path = value` for every scalar in `value` (short lists of scalars joined, other lists
/// counted), in the object's order.
fn flatten(path: &str, value: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                flatten(&join(key), value, out);
            }
        }
        Value::Array(items)
            if items.len() <= 8 && items.iter().all(|v| !v.is_object() && !v.is_array()) =>
        {
            let items: Vec<String> = items.iter().map(scalar).collect();
            out.push(format!("{path} = [{}]", items.join(", ")));
        }
        Value::Array(items) => out.push(format!("{path} = {} entries", items.len())),
        other => out.push(format!("{path} = {}", scalar(other))),
    }
}

/// A scalar as text: strings bare, numbers to 4 significant decimals at most.
fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(x)) => format!("{}", (x * 1e4).round() / 1e4),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// The held-out evaluation (`{"L<l>": {decoding: {tpp, lcp_mean, baselines: {name: {tpp,
/// lcp_mean}}}}}`) as a table: one row per look-ahead and decoding, the model and every
/// baseline as "TPP % / mean LCP". Anything else is flattened.
fn eval_table(f: &mut fmt::Formatter<'_>, value: &serde_json::Value) -> fmt::Result {
    let cell = |scores: &serde_json::Value| -> Option<String> {
        let tpp = scores.get("tpp")?.as_f64()?;
        let lcp = scores.get("lcp_mean")?.as_f64()?;
        Some(format!("{:.1}/{:.2}", tpp * 100.0, lcp))
    };
    let mut rows = Vec::new();
    for (lookahead, decodings) in value.as_object().into_iter().flatten() {
        for (decoding, scores) in decodings.as_object().into_iter().flatten() {
            let Some(model) = cell(scores) else { continue };
            let decoding = decoding.replace('_', " ");
            let decoding = if decoding.starts_with("argmax") {
                decoding
            } else {
                format!("sampled {decoding}")
            };
            let mut row = vec![
                lookahead.trim_start_matches('L').to_string(),
                decoding,
                model,
            ];
            for name in EVAL_BASELINES {
                let baseline = scores.get("baselines").and_then(|b| b.get(name));
                row.push(baseline.and_then(cell).unwrap_or_else(|| "-".into()));
            }
            rows.push(row);
        }
    }
    if rows.is_empty() {
        let mut leaves = Vec::new();
        flatten("", value, &mut leaves);
        return wrapped(f, "eval:", &leaves.join(", "));
    }
    writeln!(
        f,
        "evaluation:   held-out pieces, TPP % / mean LCP (segments); L: look-ahead"
    )?;
    let header: Vec<String> = ["L", "decoding", "model"]
        .iter()
        .chain(EVAL_BASELINES.iter())
        .map(|s| s.to_string())
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (text, &w))| {
                if c == 1 {
                    format!("{text:<w$}")
                } else {
                    format!("{text:>w$}")
                }
            })
            .collect();
        writeln!(f, "  {}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

/// The build's timing (`{"total": s, stage: s, ...}`) on one line.
fn timing_line(f: &mut fmt::Formatter<'_>, value: &serde_json::Value) -> fmt::Result {
    let Some(stages) = value.as_object() else {
        return wrapped(f, "build time:", &scalar(value));
    };
    let seconds =
        |v: &serde_json::Value| v.as_f64().map_or_else(|| scalar(v), |s| format!("{s:.1}"));
    let parts: Vec<String> = stages
        .iter()
        .filter(|(name, _)| name.as_str() != "total")
        .map(|(name, v)| format!("{name} {}", seconds(v)))
        .collect();
    let text = match stages.get("total") {
        Some(total) => format!("{} s in all ({} s)", seconds(total), parts.join(", ")),
        None => format!("{} s", parts.join(", ")),
    };
    wrapped(f, "build time:", &text)
}

/// One line per trained model (`{"L<l>": {epochs, best_epoch, best_val_loss,
/// best_val_accuracy, seconds, ...}}`); anything else is flattened.
fn training_lines(f: &mut fmt::Formatter<'_>, value: &serde_json::Value) -> fmt::Result {
    let Some(models) = value.as_object() else {
        return wrapped(f, "training:", &scalar(value));
    };
    for (name, model) in models {
        let number = |key: &str| model.get(key).and_then(serde_json::Value::as_f64);
        match (
            number("epochs"),
            number("best_epoch"),
            number("best_val_loss"),
            number("best_val_accuracy"),
        ) {
            (Some(epochs), Some(best), Some(loss), Some(accuracy)) => writeln!(
                f,
                "training:     {name}: {epochs} epochs, best epoch {best}, validation loss {loss:.3}, \
                 accuracy {:.1} %{}",
                accuracy * 100.0,
                number("seconds").map_or(String::new(), |s| format!(", {s:.0} s"))
            )?,
            _ => {
                let mut leaves = Vec::new();
                flatten(name, model, &mut leaves);
                wrapped(f, "training:", &leaves.join(", "))?;
            }
        }
    }
    Ok(())
}

/// A byte count printed with a binary unit.
struct Bytes(usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0 as f64;
        if bytes >= f64::from(1 << 20) {
            write!(f, "{:.1} MiB", bytes / f64::from(1 << 20))
        } else if bytes >= 1024.0 {
            write!(f, "{:.1} KiB", bytes / 1024.0)
        } else {
            write!(f, "{} B", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Shown<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(F);

    impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Shown<F> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            (self.0)(f)
        }
    }

    #[test]
    fn metrics_read_as_a_table_and_one_line_per_model_within_120_characters() {
        let scores = |tpp: f64| {
            serde_json::json!({
                "tpp": tpp, "lcp_mean": 0.5, "lcp_per_position": [0.1, 0.2],
                "baselines": {"uniform": {"tpp": 0.075, "lcp_mean": 0.08},
                              "copy_a": {"tpp": 0.23, "lcp_mean": 0.72}}
            })
        };
        let eval = serde_json::json!({
            "L1": {"argmax_constrained": scores(0.3), "constrained": scores(0.21)},
            "L0": {"argmax_constrained": scores(0.197)}
        });
        let text = Shown(|f| eval_table(f, &eval)).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 1 + 3, "{text}");
        assert!(lines[2].contains("argmax constrained") && lines[2].contains("19.7/0.50"));
        assert!(lines[4].contains("sampled constrained") && lines[4].contains("21.0/0.50"));
        assert!(lines[2].contains("7.5/0.08") && lines[2].contains("23.0/0.72"));
        assert!(
            lines[2].trim_end().ends_with('-'),
            "no shuffled baseline: {text}"
        );

        let training = serde_json::json!({"L1": {
            "epochs": 25, "best_epoch": 19, "best_val_loss": 2.006, "best_val_accuracy": 0.366,
            "seconds": 352.8, "loss": [{"epoch": 1}]
        }});
        let line = Shown(|f| training_lines(f, &training)).to_string();
        assert_eq!(
            line,
            "training:     L1: 25 epochs, best epoch 19, validation loss 2.006, accuracy 36.6 %, \
             353 s\n"
        );
        let timing = serde_json::json!({"encode": 0.61, "train": 786.2, "total": 819.2});
        let line = Shown(|f| timing_line(f, &timing)).to_string();
        assert_eq!(
            line,
            "build time:   819.2 s in all (encode 0.6, train 786.2 s)\n"
        );
        let long = "word ".repeat(100);
        let text = Shown(|f| wrapped(f, "description:", &long)).to_string();
        assert!(text.lines().count() > 3);
        assert!(
            text.lines().all(|l| l.chars().count() <= MAX_LINE),
            "{text}"
        );
    }
}
