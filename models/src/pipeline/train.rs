//! Training the decision model with candle autograd: random windows, AdamW with warm-up and
//! cosine decay, gradient clipping, label smoothing, early stopping on validation loss, best
//! checkpoint saved as safetensors + JSON config, a CSV loss log. Seeded and reproducible.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use counterpart_core::decision::model::save_checkpoint;
use counterpart_core::decision::{seeded_model, DecisionConfig, DecisionModel, LabelInit};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::dataset::{PairedTokenDataset, Window};
use crate::pipeline::PipelineError;

/// File name of the loss log inside the output folder.
pub const LOSS_LOG_FILE: &str = "loss.csv";

/// Training options.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Windows per batch.
    pub batch_size: usize,
    /// Window length in segments; `None` uses the model's context N.
    pub window: Option<usize>,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Final learning rate as a fraction of the peak (end of the cosine).
    pub min_lr_ratio: f64,
    /// Linear warm-up steps.
    pub warmup_steps: usize,
    /// Upper bound on epochs (the cosine decays over `max_epochs · steps_per_epoch`).
    pub max_epochs: usize,
    /// Optimiser steps per epoch; `None`: enough for the training tokens to be seen once.
    pub steps_per_epoch: Option<usize>,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Label smoothing ε of the training loss.
    pub label_smoothing: f64,
    /// History noise: each content label of B's decoder input (B's past) is replaced by a
    /// uniformly random label with this probability during training (0 disables it). Teacher
    /// forcing otherwise lets the model lean on copying B's true past (consecutive segments
    /// share a label about half the time), which it does not have when it generates: with its
    /// own output as past it then ignores A. Noise on the past makes A worth attending to.
    pub history_noise: f64,
    /// Initial label embeddings and output rows drawn from the codebook centres (`None`: all
    /// random).
    pub label_init: Option<LabelInit>,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// Seed of the weight init, dropout and window sampling.
    pub seed: u64,
    /// Stop (keeping the best checkpoint) once this much time has passed.
    pub time_budget: Option<Duration>,
    /// Draw a progress bar on stderr.
    pub show_progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 16,
            window: None,
            learning_rate: 5e-4,
            min_lr_ratio: 0.05,
            warmup_steps: 200,
            max_epochs: 60,
            steps_per_epoch: None,
            weight_decay: 0.01,
            grad_clip: 1.0,
            label_smoothing: 0.1,
            history_noise: 0.0,
            label_init: None,
            patience: 6,
            seed: 0,
            time_budget: Some(Duration::from_secs(30 * 60)),
            show_progress: true,
        }
    }
}

/// One line of the loss log.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochLog {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Optimiser steps done so far.
    pub step: usize,
    /// Mean training loss (label-smoothed) over the epoch.
    pub train_loss: f64,
    /// Validation cross-entropy (no smoothing, no dropout, teacher forced).
    pub val_loss: f64,
    /// Validation top-1 accuracy (teacher forced).
    pub val_accuracy: f64,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f64,
    /// Seconds since the start.
    pub elapsed_s: f64,
}

/// What a training run did.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// One entry per epoch.
    pub epochs: Vec<EpochLog>,
    /// Epoch of the saved checkpoint.
    pub best_epoch: usize,
    /// Its validation loss.
    pub best_val_loss: f64,
    /// Its validation accuracy.
    pub best_val_accuracy: f64,
    /// Target tokens processed per second of training (forward + backward).
    pub tokens_per_second: f64,
    /// Folder of the best checkpoint.
    pub checkpoint: PathBuf,
}

/// The variables of `varmap` sorted by name (a deterministic order for the gradient norm).
pub fn sorted_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let mut vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// A batch of windows as tensors: guide `(b, len + L)` (and its reaction windows, same shape,
/// for a model with a window), response `(b, len)`, targets `(b, len)`.
pub struct Batch {
    /// Encoder input ids.
    pub guide: Tensor,
    /// The guide's reaction-window ids (models with a window only).
    pub window: Option<Tensor>,
    /// Decoder input ids.
    pub response: Tensor,
    /// Target ids (PAD where ignored).
    pub targets: Tensor,
}

/// Builds the teacher-forcing tensors of `windows` of length `len`.
pub fn make_batch(
    config: &DecisionConfig,
    data: &PairedTokenDataset,
    windows: &[Window],
    len: usize,
    device: &Device,
) -> Result<Batch, PipelineError> {
    let (mut g, mut p_, mut r, mut t) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for w in windows {
        let p = &data.pairs[w.pair];
        if config.has_window() && p.windows.len() != p.a.len() {
            return Err(PipelineError::TrainSetup(format!(
                "{} ({} → {}): the model hears a reaction window, but the guide was not \
                 encoded with one",
                p.piece, p.guide, p.response
            )));
        }
        let tf = config.teacher_forcing(&p.a, &p.windows, &p.b, w.start, len);
        g.extend(tf.guide);
        p_.extend(tf.window);
        r.extend(tf.response);
        t.extend(tf.targets);
    }
    let b = windows.len();
    let guide_shape = (b, len + config.lookahead);
    Ok(Batch {
        guide: Tensor::from_vec(g, guide_shape, device)?,
        window: if config.has_window() {
            Some(Tensor::from_vec(p_, guide_shape, device)?)
        } else {
            None
        },
        response: Tensor::from_vec(r, (b, len), device)?,
        targets: Tensor::from_vec(t, (b, len), device)?,
    })
}

/// `response` with each content label (below `vocab_size`; special tokens are kept) replaced by
/// a uniformly random content label with probability `p` ([`TrainConfig::history_noise`]).
pub fn noisy_history(
    response: &Tensor,
    vocab_size: usize,
    p: f64,
    rng: &mut impl Rng,
) -> Result<Tensor, PipelineError> {
    let mut ids: Vec<u32> = response.flatten_all()?.to_vec1()?;
    for id in ids.iter_mut().filter(|id| (**id as usize) < vocab_size) {
        if rng.random_bool(p.clamp(0.0, 1.0)) {
            *id = rng.random_range(0..vocab_size as u32);
        }
    }
    Ok(Tensor::from_vec(ids, response.shape(), response.device())?)
}

/// Mean token loss over non-PAD targets: `(1 − ε)·NLL + ε·mean_k(−log p_k)`; also returns the
/// number of top-1 hits and of counted targets.
pub fn loss_and_hits(
    logits: &Tensor,
    targets: &Tensor,
    pad: u32,
    smoothing: f64,
) -> Result<(Tensor, usize, usize), PipelineError> {
    let k = logits.dim(D::Minus1)?;
    let logits = logits.reshape(((), k))?;
    let targets: Vec<u32> = targets.flatten_all()?.to_vec1()?;
    let mask: Vec<f32> = targets
        .iter()
        .map(|&t| f32::from(u8::from(t != pad)))
        .collect();
    let counted = mask.iter().filter(|&&m| m > 0.0).count();
    if counted == 0 {
        return Err(PipelineError::TrainSetup(
            "a batch with no target to learn".into(),
        ));
    }
    let safe: Vec<u32> = targets
        .iter()
        .map(|&t| if t == pad { 0 } else { t })
        .collect();
    let device = logits.device();
    let n = safe.len();
    let safe_t = Tensor::from_vec(safe.clone(), (n, 1), device)?;
    let mask_t = Tensor::from_vec(mask, n, device)?;
    let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let nll = log_probs.gather(&safe_t, 1)?.squeeze(1)?.neg()?;
    let uniform = log_probs.mean(D::Minus1)?.neg()?;
    let per_token = ((nll * (1.0 - smoothing))? + (uniform * smoothing)?)?;
    let loss = ((per_token * &mask_t)?.sum_all()? / counted as f64)?;
    let argmax: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
    let hits = argmax
        .iter()
        .zip(&targets)
        .filter(|(p, t)| **t != pad && p == t)
        .count();
    Ok((loss, hits, counted))
}

/// Teacher-forced validation: mean cross-entropy and top-1 accuracy over tiled windows.
pub fn evaluate(
    model: &DecisionModel,
    data: &PairedTokenDataset,
    len: usize,
    batch_size: usize,
) -> Result<(f64, f64), PipelineError> {
    let cfg = model.config();
    let windows = data.tiled_windows(len);
    let (mut loss_sum, mut hits, mut count) = (0.0, 0usize, 0usize);
    for chunk in windows.chunks(batch_size) {
        let batch = make_batch(cfg, data, chunk, len, model.device())?;
        let logits = model
            .forward(&batch.guide, batch.window.as_ref(), &batch.response, None)?
            .detach();
        let (loss, h, c) = loss_and_hits(&logits, &batch.targets, cfg.pad(), 0.0)?;
        loss_sum += loss.to_scalar::<f32>()? as f64 * c as f64;
        hits += h;
        count += c;
    }
    Ok((loss_sum / count as f64, hits as f64 / count as f64))
}

/// Learning rate at `step`: linear warm-up, then cosine decay to `min_lr_ratio · lr` at `total`.
pub fn learning_rate(cfg: &TrainConfig, step: usize, total: usize) -> f64 {
    let peak = cfg.learning_rate;
    if step < cfg.warmup_steps {
        return peak * (step + 1) as f64 / cfg.warmup_steps as f64;
    }
    let span = total.saturating_sub(cfg.warmup_steps).max(1);
    let progress = ((step - cfg.warmup_steps) as f64 / span as f64).min(1.0);
    let floor = peak * cfg.min_lr_ratio;
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// Scales the gradients in place so that their global norm is at most `max_norm`; returns the
/// norm before clipping.
fn clip_gradients(
    grads: &mut candle_core::backprop::GradStore,
    vars: &[(String, Var)],
    max_norm: f64,
) -> Result<f64, PipelineError> {
    let mut total = 0.0f64;
    for (_, var) in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            total += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = total.sqrt();
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for (_, var) in vars {
            if let Some(g) = grads.remove(var.as_tensor()) {
                grads.insert(var.as_tensor(), (g * scale)?);
            }
        }
    }
    Ok(norm)
}

/// Trains a model of `model_config` on `train`, early-stopping on `val`; the best checkpoint
/// (safetensors + JSON config) and `loss.csv` go to `out_dir`.
pub fn train(
    model_config: &DecisionConfig,
    train: &PairedTokenDataset,
    val: &PairedTokenDataset,
    cfg: &TrainConfig,
    out_dir: &Path,
    device: &Device,
) -> Result<TrainReport, PipelineError> {
    let len = check_setup(model_config, train, val, cfg)?;
    let steps_per_epoch = cfg
        .steps_per_epoch
        .unwrap_or_else(|| train.num_tokens().div_ceil(cfg.batch_size * len))
        .max(1);
    let total_steps = steps_per_epoch * cfg.max_epochs;
    let mut run = Optimisation::new(model_config, cfg, len, total_steps, device)?;
    let (mut log, log_path) = open_loss_log(out_dir)?;
    let bar = progress_bar(cfg, total_steps);

    let start = Instant::now();
    let mut step = 0usize;
    let mut trained_tokens = 0usize;
    let mut epochs = Vec::new();
    let mut best: Option<EpochLog> = None;
    let mut since_best = 0usize;
    let checkpoint = out_dir.to_path_buf();
    for epoch in 1..=cfg.max_epochs {
        let mut loss_sum = 0.0;
        let mut budget_reached = false;
        for _ in 0..steps_per_epoch {
            let (loss_value, counted) = run.step(train, step)?;
            loss_sum += loss_value;
            trained_tokens += counted;
            step += 1;
            bar.inc(1);
            bar.set_message(format!("epoch {epoch} loss {loss_value:.3}"));
            if cfg.time_budget.is_some_and(|b| start.elapsed() >= b) {
                tracing::info!("time budget reached at step {step}");
                budget_reached = true;
                break;
            }
        }
        let entry = finish_epoch(
            &run.model,
            val,
            len,
            cfg,
            epoch,
            step,
            loss_sum,
            steps_per_epoch,
            &run.opt,
            start,
        )?;
        record(&mut log, &log_path, &entry)?;
        tracing::info!(
            epoch,
            step,
            train_loss = entry.train_loss,
            val_loss = entry.val_loss,
            val_accuracy = entry.val_accuracy,
            "epoch done"
        );
        if best.as_ref().is_none_or(|b| entry.val_loss < b.val_loss) {
            save_checkpoint(&checkpoint, model_config, &run.varmap)?;
            best = Some(entry.clone());
            since_best = 0;
        } else {
            since_best += 1;
        }
        epochs.push(entry);
        if budget_reached {
            break;
        }
        if since_best >= cfg.patience {
            tracing::info!("early stop: {since_best} epochs without a better validation loss");
            break;
        }
    }
    bar.finish_and_clear();
    let best = best.expect("at least one epoch ran");
    Ok(TrainReport {
        epochs,
        best_epoch: best.epoch,
        best_val_loss: best.val_loss,
        best_val_accuracy: best.val_accuracy,
        tokens_per_second: trained_tokens as f64 / start.elapsed().as_secs_f64(),
        checkpoint,
    })
}

/// Checks that the model, the datasets and the options fit together; returns the training
/// window length.
fn check_setup(
    model_config: &DecisionConfig,
    train: &PairedTokenDataset,
    val: &PairedTokenDataset,
    cfg: &TrainConfig,
) -> Result<usize, PipelineError> {
    model_config.validate()?;
    if train.vocab_size != model_config.vocab_size || val.vocab_size != model_config.vocab_size {
        return Err(PipelineError::TrainSetup(format!(
            "datasets have K = {} / {}, the model K = {}",
            train.vocab_size, val.vocab_size, model_config.vocab_size
        )));
    }
    if train.pairs.is_empty() || val.pairs.is_empty() {
        return Err(PipelineError::TrainSetup(
            "empty training or validation set".into(),
        ));
    }
    if cfg.batch_size == 0 || cfg.max_epochs == 0 || cfg.warmup_steps == 0 {
        return Err(PipelineError::TrainSetup(
            "batch_size, max_epochs and warmup_steps must be ≥ 1".into(),
        ));
    }
    if !(0.0..1.0).contains(&cfg.history_noise) {
        return Err(PipelineError::TrainSetup(
            "history_noise must be in [0, 1)".into(),
        ));
    }
    let len = cfg.window.unwrap_or(model_config.context);
    if len == 0 {
        return Err(PipelineError::TrainSetup("window must be ≥ 1".into()));
    }
    Ok(len)
}

/// Creates `out_dir` and its loss log, with the header line; returns the log and its path.
fn open_loss_log(out_dir: &Path) -> Result<(std::fs::File, PathBuf), PipelineError> {
    std::fs::create_dir_all(out_dir).map_err(|source| PipelineError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let log_path = out_dir.join(LOSS_LOG_FILE);
    let io_err = |source| PipelineError::Io {
        path: log_path.clone(),
        source,
    };
    let mut log = std::fs::File::create(&log_path).map_err(io_err)?;
    writeln!(
        log,
        "epoch,step,train_loss,val_loss,val_accuracy,learning_rate,elapsed_s"
    )
    .map_err(io_err)?;

    Ok((log, log_path))
}

/// The progress bar of a run of `total_steps` (hidden unless [`TrainConfig::show_progress`]).
fn progress_bar(cfg: &TrainConfig, total_steps: usize) -> ProgressBar {
    let bar = if cfg.show_progress {
        ProgressBar::new(total_steps as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );

    bar
}

/// The model being trained, its optimiser and the run's random numbers.
struct Optimisation<'a> {
    model_config: &'a DecisionConfig,
    cfg: &'a TrainConfig,
    device: &'a Device,
    /// Training window length.
    len: usize,
    /// Steps of the whole run (for the learning-rate schedule).
    total_steps: usize,
    model: DecisionModel,
    varmap: VarMap,
    vars: Vec<(String, Var)>,
    opt: AdamW,
    rng: ChaCha8Rng,
}

impl<'a> Optimisation<'a> {
    /// The seeded model (label embeddings initialised as `cfg` says), its AdamW optimiser and
    /// the run's random number generator.
    fn new(
        model_config: &'a DecisionConfig,
        cfg: &'a TrainConfig,
        len: usize,
        total_steps: usize,
        device: &'a Device,
    ) -> Result<Self, PipelineError> {
        let (model, varmap) = seeded_model(model_config, cfg.seed, device)?;
        if let Some(init) = &cfg.label_init {
            init.apply(&varmap, model_config, cfg.seed)?;
        }
        let vars = sorted_vars(&varmap);
        let opt = AdamW::new(
            vars.iter().map(|(_, v)| v.clone()).collect(),
            ParamsAdamW {
                lr: learning_rate(cfg, 0, total_steps),
                weight_decay: cfg.weight_decay,
                ..Default::default()
            },
        )?;
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x005e_ed0f_d3c1_5104);
        Ok(Self {
            model_config,
            cfg,
            device,
            len,
            total_steps,
            model,
            varmap,
            vars,
            opt,
            rng,
        })
    }

    /// One optimiser step on a random batch of `train`; returns the batch's loss and how many
    /// target tokens it counted.
    fn step(
        &mut self,
        train: &PairedTokenDataset,
        step: usize,
    ) -> Result<(f64, usize), PipelineError> {
        let (model_config, cfg, len, device) = (self.model_config, self.cfg, self.len, self.device);
        let (model, rng, opt) = (&self.model, &mut self.rng, &mut self.opt);
        let windows: Vec<Window> = (0..cfg.batch_size)
            .map(|_| train.random_window(len, &mut *rng))
            .collect();
        let mut batch = make_batch(model_config, train, &windows, len, device)?;
        if cfg.history_noise > 0.0 {
            batch.response = noisy_history(
                &batch.response,
                model_config.vocab_size,
                cfg.history_noise,
                &mut *rng,
            )?;
        }
        let logits = model.forward(
            &batch.guide,
            batch.window.as_ref(),
            &batch.response,
            Some(&mut *rng),
        )?;
        let (loss, _, counted) = loss_and_hits(
            &logits,
            &batch.targets,
            model_config.pad(),
            cfg.label_smoothing,
        )?;
        let loss_value = loss.to_scalar::<f32>()? as f64;
        if !loss_value.is_finite() {
            return Err(PipelineError::Diverged(step));
        }
        let mut grads = loss.backward()?;
        clip_gradients(&mut grads, &self.vars, cfg.grad_clip)?;
        opt.set_learning_rate(learning_rate(cfg, step, self.total_steps));
        opt.step(&grads)?;
        Ok((loss_value, counted))
    }
}

#[allow(clippy::too_many_arguments)]
fn finish_epoch(
    model: &DecisionModel,
    val: &PairedTokenDataset,
    len: usize,
    cfg: &TrainConfig,
    epoch: usize,
    step: usize,
    loss_sum: f64,
    steps_per_epoch: usize,
    opt: &AdamW,
    start: Instant,
) -> Result<EpochLog, PipelineError> {
    let steps_this_epoch = step - (epoch - 1) * steps_per_epoch;
    let (val_loss, val_accuracy) = evaluate(model, val, len, cfg.batch_size)?;
    Ok(EpochLog {
        epoch,
        step,
        train_loss: loss_sum / steps_this_epoch.max(1) as f64,
        val_loss,
        val_accuracy,
        learning_rate: opt.learning_rate(),
        elapsed_s: start.elapsed().as_secs_f64(),
    })
}

fn record(log: &mut std::fs::File, path: &Path, e: &EpochLog) -> Result<(), PipelineError> {
    writeln!(
        log,
        "{},{},{:.6},{:.6},{:.6},{:.3e},{:.1}",
        e.epoch, e.step, e.train_loss, e.val_loss, e.val_accuracy, e.learning_rate, e.elapsed_s
    )
    .map_err(|source| PipelineError::Io {
        path: path.to_path_buf(),
        source,
    })
}
