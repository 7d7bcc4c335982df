//! `counterpart sweep`: builds and evaluates presets for every K × L on one stems set (the same
//! piece split for all, held-out pieces for the scores) and writes a Markdown table. With
//! `reuse`, a run whose preset is already in the presets folder is evaluated again instead of
//! trained again.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use counterpart_core::preset::Preset;

use crate::data::dataset::pairing_for;
use crate::data::dataset::PairedTokenDataset;
use crate::data::layout::StemsSet;
use crate::eval::EvalError;
use crate::pipeline::build_preset::{build_preset, BuildOptions};
use crate::pipeline::encode::EncodedSet;
use crate::pipeline::evaluate::evaluate_all;
use crate::pipeline::evaluate::{EvalReport, PAPER_BASELINES};
use crate::pipeline::preset_runtime::{preset_encoding, preset_runtime};
use crate::pipeline::PipelineError;

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Alphabet sizes.
    pub ks: Vec<usize>,
    /// Look-aheads.
    pub lookaheads: Vec<usize>,
    /// The Markdown file written (rewritten after every run).
    pub out: PathBuf,
    /// Folder of the presets built.
    pub presets: PathBuf,
    /// Build options; `k` and the model's `vocab_size` and `lookahead` are overridden.
    pub base: BuildOptions,
    /// Re-evaluate a run's preset when it is already in `presets` instead of building it again
    /// (to finish an interrupted sweep, or to rescore after an evaluation change).
    pub reuse: bool,
}

/// One row of the table.
#[derive(Debug, Clone)]
struct Row {
    k: usize,
    lookahead: usize,
    eval: Vec<EvalReport>,
    epochs: usize,
    train_s: f64,
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn cell(r: &EvalReport, name: &str) -> String {
    r.baselines.get(name).map_or("–".into(), |s| {
        format!("{:.1} / {:.2}", s.tpp * 100.0, s.lcp_mean)
    })
}

fn table(stems: &Path, rows: &[Row], base: &BuildOptions) -> String {
    let mut out = String::new();
    let m = &base.model;
    let _ = writeln!(
        out,
        "# Results: K × L sweep\n\nStems: `{}`; pairs {:?}; segment {:?}; decision model d_model \
         {}, {}+{} layers, FFN {}, context {}; training limit {:?} per run. Scores on held-out \
         pieces (split by piece, seed {}), generated with the streaming model. Cells: TPP % / \
         mean LCP (segments). Best random TPP: the best of uniform, histogram and present. \
         Constrained: each pair is masked to the labels of its own target track, the memory B is \
         played from. `majority` (B's most frequent label) is not one of the paper's baselines; \
         it is the arg-max counterpart of `histogram`.\n",
        stems.display(),
        base.selection,
        base.encoding.config.segmentation.length,
        m.d_model,
        m.encoder_layers,
        m.decoder_layers,
        m.ffn_dim,
        m.context,
        base.train.time_budget,
        base.seed
    );
    for (i, title) in [
        "Sampled (temperature 1, top-p 0.9), unconstrained",
        "Sampled (temperature 1, top-p 0.9), constrained to the target track's labels",
        "Arg-max, unconstrained",
        "Arg-max, constrained to the target track's labels",
    ]
    .iter()
    .enumerate()
    {
        let _ = writeln!(
            out,
            "## {title}\n\n| K | L | model | uniform | histogram | present | majority | copy_a | \
             shuffled | model / best random TPP | beats all but majority | beats all | epochs | \
             train s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in rows {
            let e = &r.eval[i];
            let _ =
                writeln!(
                out,
                "| {} | {} | **{:.1} / {:.2}** | {} | {} | {} | {} | {} | {} | {:.2}× | {} | {} | {} \
                 | {:.0} |",
                r.k,
                r.lookahead,
                e.model.tpp * 100.0,
                e.model.lcp_mean,
                cell(e, "uniform"),
                cell(e, "histogram"),
                cell(e, "present"),
                cell(e, "majority"),
                cell(e, "copy_a"),
                cell(e, "shuffled"),
                e.model.tpp / e.best_random_tpp().max(1e-9),
                yes_no(e.beats(&PAPER_BASELINES)),
                yes_no(e.beats_every_baseline()),
                r.epochs,
                r.train_s
            );
        }
        out.push('\n');
    }
    out
}

/// Runs the sweep; returns the table (also written to `options.out`).
pub fn sweep(stems: &Path, options: &SweepOptions) -> Result<String, EvalError> {
    std::fs::create_dir_all(&options.presets)
        .map_err(|e| PipelineError::io(&options.presets, e))?;
    if let Some(dir) = options.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| PipelineError::io(dir, e))?;
    }
    let mut rows = Vec::new();
    let mut text = String::new();
    for &k in &options.ks {
        for &l in &options.lookaheads {
            let path = options.presets.join(format!("k{k}-l{l}.cpreset"));
            let row = if options.reuse && path.exists() {
                tracing::info!(k, lookahead = l, preset = %path.display(), "sweep run reused");
                reevaluate(stems, &path, k, l, &options.base)?
            } else {
                tracing::info!(k, lookahead = l, "sweep run");
                build_run(stems, &path, k, l, &options.base)?
            };
            rows.push(row);
            text = table(stems, &rows, &options.base);
            std::fs::write(&options.out, &text).map_err(|e| PipelineError::io(&options.out, e))?;
        }
    }
    Ok(text)
}

/// Builds the preset of one sweep run, saves it to `path` and returns its row.
fn build_run(
    stems: &Path,
    path: &Path,
    k: usize,
    lookahead: usize,
    base: &BuildOptions,
) -> Result<Row, EvalError> {
    let mut o = base.clone();
    o.k = k;
    o.model.vocab_size = k;
    o.model.lookahead = lookahead;
    o.lookaheads = vec![lookahead];
    o.info.name = format!("sweep K={k} L={lookahead}");
    let outcome = build_preset(stems, &o)?;
    outcome.preset.save(path)?;
    let model = outcome
        .models
        .into_iter()
        .next()
        .ok_or_else(|| EvalError::Invalid("the build trained no model".into()))?;
    Ok(Row {
        k,
        lookahead,
        eval: model.eval,
        epochs: model.train.epochs.len(),
        train_s: model.train_s,
    })
}

/// The row of a sweep run whose preset was built before: the preset's model is evaluated again
/// on the held-out pieces recorded in the preset, and its training figures are read from it.
fn reevaluate(
    stems: &Path,
    path: &Path,
    k: usize,
    lookahead: usize,
    base: &BuildOptions,
) -> Result<Row, EvalError> {
    let preset = Preset::load(path)?;
    let stale = |what: String| {
        EvalError::Invalid(format!(
            "{} is not this sweep's run ({what}): move it away or run without --reuse",
            path.display()
        ))
    };
    if preset.k() != k || preset.lookaheads() != [lookahead] {
        return Err(stale(format!(
            "K = {}, look-aheads {:?}",
            preset.k(),
            preset.lookaheads()
        )));
    }
    let data = &preset.metrics["data"];
    if data["stems_dir"].as_str() != Some(&*stems.display().to_string()) {
        return Err(stale(format!("built from {}", data["stems_dir"])));
    }
    let test: Vec<String> = data["pieces"]["test"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let training = &preset.metrics["training"][format!("L{lookahead}")];
    let (Some(epochs), Some(train_s)) = (training["epochs"].as_u64(), training["seconds"].as_f64())
    else {
        return Err(stale("no training record".into()));
    };
    let (codebook, model, counts) = preset_runtime(&preset, Some(lookahead))?;
    let set = StemsSet::open(stems)?;
    let encoding = preset_encoding(
        &preset,
        &base.encoding.encoder,
        base.encoding.threads,
        base.encoding.cache.clone(),
    )?;
    let tokens =
        EncodedSet::encode(&set, &base.selection, Some(&test), &encoding)?.tokenise(&codebook)?;
    let data =
        PairedTokenDataset::from_pieces(k, &tokens.pieces, &pairing_for(&set, &base.selection))?;
    let eval = evaluate_all(&model, &data, &counts)?;
    Ok(Row {
        k,
        lookahead,
        eval,
        epochs: epochs as usize,
        train_s,
    })
}
