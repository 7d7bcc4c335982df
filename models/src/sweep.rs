//! `counterpart sweep`: builds and evaluates presets for every K × L on one stems set (the same
//! piece split for all, held-out pieces for the scores) and writes a Markdown table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::build_preset::{build_preset, BuildOptions};
use crate::evaluate::EvalReport;
use crate::pipeline_error::PipelineError;

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
         mean LCP (segments). Best random TPP: the best of uniform, histogram and present.\n",
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
        "Sampled (temperature 1, top-p 0.9), constrained to the corpus labels",
        "Arg-max, unconstrained",
        "Arg-max, constrained to the corpus labels",
    ]
    .iter()
    .enumerate()
    {
        let _ = writeln!(
            out,
            "## {title}\n\n| K | L | model | uniform | histogram | present | majority | copy_a | \
             shuffled | model / best random TPP | beats all | epochs | train s |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in rows {
            let e = &r.eval[i];
            let _ =
                writeln!(
                out,
                "| {} | {} | **{:.1} / {:.2}** | {} | {} | {} | {} | {} | {} | {:.2}× | {} | {} | \
                 {:.0} |",
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
                if e.beats_every_baseline() { "yes" } else { "no" },
                r.epochs,
                r.train_s
            );
        }
        out.push('\n');
    }
    out
}

/// Runs the sweep; returns the table (also written to `options.out`).
pub fn sweep(stems: &Path, options: &SweepOptions) -> Result<String, PipelineError> {
    std::fs::create_dir_all(&options.presets)
        .map_err(|e| PipelineError::io(&options.presets, e))?;
    if let Some(dir) = options.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| PipelineError::io(dir, e))?;
    }
    let mut rows = Vec::new();
    let mut text = String::new();
    for &k in &options.ks {
        for &l in &options.lookaheads {
            tracing::info!(k, lookahead = l, "sweep run");
            let mut o = options.base.clone();
            o.k = k;
            o.model.vocab_size = k;
            o.model.lookahead = l;
            o.lookaheads = vec![l];
            o.info.name = format!("sweep K={k} L={l}");
            let outcome = build_preset(stems, &o)?;
            let path = options.presets.join(format!("k{k}-l{l}.cpreset"));
            outcome.preset.save(&path)?;
            let model = outcome
                .models
                .into_iter()
                .next()
                .ok_or_else(|| PipelineError::Invalid("the build trained no model".into()))?;
            rows.push(Row {
                k,
                lookahead: l,
                eval: model.eval,
                epochs: model.train.epochs.len(),
                train_s: model.train_s,
            });
            text = table(stems, &rows, &options.base);
            std::fs::write(&options.out, &text).map_err(|e| PipelineError::io(&options.out, e))?;
        }
    }
    Ok(text)
}
