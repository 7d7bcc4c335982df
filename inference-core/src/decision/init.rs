//! Seeded weight initialisation of the decision model.
//!
//! candle's CPU random generator cannot be seeded, so models built through a plain
//! `VarBuilder::from_varmap` differ from run to run. [`seeded_model`] draws every initial weight
//! from a ChaCha generator instead, so training runs and tests are reproducible. [`LabelInit`]
//! optionally starts the label embeddings from the codebook.

use std::sync::Mutex;

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::{Init, VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{DecisionConfig, DecisionError, DecisionModel};

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rand::Rng::random::<f64>(rng);
    let u2: f64 = rand::Rng::random(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Weight initialisation from a seeded generator (candle's CPU generator cannot be seeded), stored
/// in a [`VarMap`] so that the optimiser and checkpointing see the variables.
struct SeededInit {
    varmap: VarMap,
    rng: Mutex<ChaCha8Rng>,
}

impl candle_nn::var_builder::SimpleBackend for SeededInit {
    fn get(
        &self,
        s: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        if let Some(var) = self.varmap.data().lock().unwrap().get(name) {
            return Ok(var.as_tensor().clone());
        }
        let n = s.elem_count();
        let mut rng = self.rng.lock().unwrap();
        let values: Vec<f32> = match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => (0..n)
                .map(|_| rand::Rng::random_range(&mut *rng, lo..up) as f32)
                .collect(),
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| (mean + stdev * normal(&mut rng)) as f32)
                .collect(),
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let std = non_linearity.gain() / (fan.for_shape(&s) as f64).sqrt();
                match dist {
                    candle_nn::init::NormalOrUniform::Normal => {
                        (0..n).map(|_| (std * normal(&mut rng)) as f32).collect()
                    }
                    candle_nn::init::NormalOrUniform::Uniform => {
                        let b = 3f64.sqrt() * std;
                        (0..n)
                            .map(|_| rand::Rng::random_range(&mut *rng, -b..b) as f32)
                            .collect()
                    }
                }
            }
        };
        let var = Var::from_tensor(&Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?)?;
        let tensor = var.as_tensor().clone();
        self.varmap
            .data()
            .lock()
            .unwrap()
            .insert(name.to_string(), var);
        Ok(tensor)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        candle_core::bail!("SeededInit has no tensor {name} without a shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap.data().lock().unwrap().contains_key(name)
    }
}

/// A freshly initialised, trainable model whose weights depend only on `seed`; returns the model
/// and its variables (for the optimiser and for saving).
pub fn seeded_model(
    config: &DecisionConfig,
    seed: u64,
    device: &Device,
) -> Result<(DecisionModel, VarMap), DecisionError> {
    let backend = SeededInit {
        varmap: VarMap::new(),
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
    };
    let varmap = backend.varmap.clone();
    let vb = VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone());
    let model = DecisionModel::new(config, vb)?;
    Ok((model, varmap))
}

/// Codebook-informed initialisation of the label embeddings (shared by A and B) and of the output
/// rows: labels whose centres are close start close, so what the model learns about a label
/// carries over to its neighbours. With a large codebook each label has few training tokens (89
/// per label at K = 256 on the dev stems); with random rows, each is learnt from its own alone.
///
/// The centres, centred on their mean, are mapped to `d_model` by a seeded Gaussian projection
/// (which keeps their distances up to a common scale) and scaled to the random rows' RMS. A row
/// then starts as `√w · projected + √(1 − w) · random`. Only the start differs: the model, its
/// size and its file are the same.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelInit {
    /// The K codebook centres, row-major `(K, dim)`.
    pub centres: Vec<f32>,
    /// Width of a centre.
    pub dim: usize,
    /// Share `w` in [0, 1] of the initial rows' variance that comes from the centres.
    pub weight: f64,
}

impl LabelInit {
    /// Mixes projected centres into the first K rows of `(rows, d)` matrix `random` (row-major),
    /// scaled to the RMS of those rows.
    fn mix(&self, random: &mut [f32], k: usize, d: usize, rng: &mut ChaCha8Rng) {
        let dim = self.dim;
        let mut mean = vec![0.0f64; dim];
        for c in self.centres.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(c) {
                *m += x as f64 / k as f64;
            }
        }
        let projection: Vec<f64> = (0..dim * d).map(|_| normal(rng)).collect();
        let mut projected = vec![0.0f64; k * d];
        for (row, c) in projected
            .chunks_exact_mut(d)
            .zip(self.centres.chunks_exact(dim))
        {
            for (i, (&x, m)) in c.iter().zip(&mean).enumerate() {
                let x = x as f64 - m;
                for (r, p) in row.iter_mut().zip(&projection[i * d..(i + 1) * d]) {
                    *r += x * p;
                }
            }
        }
        let rms = |v: &mut dyn Iterator<Item = f64>| {
            let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x * x, n + 1));
            (sum / n.max(1) as f64).sqrt()
        };
        let target = rms(&mut random[..k * d].iter().map(|&x| x as f64));
        let got = rms(&mut projected.iter().copied());
        if got == 0.0 {
            return;
        }
        let (a, b) = (
            self.weight.sqrt() * target / got,
            (1.0 - self.weight).sqrt(),
        );
        for (r, p) in random[..k * d].iter_mut().zip(&projected) {
            *r = (a * p + b * *r as f64) as f32;
        }
    }

    /// Applies the initialisation to the variables of a fresh model of `config` (as made by
    /// [`seeded_model`]); `seed` draws the projection.
    pub fn apply(
        &self,
        varmap: &VarMap,
        config: &DecisionConfig,
        seed: u64,
    ) -> Result<(), DecisionError> {
        let k = config.vocab_size;
        if self.dim == 0 || self.centres.len() != k * self.dim {
            return Err(DecisionError::InvalidConfig(format!(
                "label init: {} centre values are not K = {k} centres of width {}",
                self.centres.len(),
                self.dim
            )));
        }
        if !(0.0..=1.0).contains(&self.weight) || self.centres.iter().any(|x| !x.is_finite()) {
            return Err(DecisionError::InvalidConfig(
                "label init: the weight must be in [0, 1] and the centres finite".into(),
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1abe_1141);
        let data = varmap.data().lock().unwrap();
        for name in ["embed.weight", "head.weight"] {
            let var = data.get(name).ok_or_else(|| {
                DecisionError::InvalidConfig(format!("the model has no `{name}`"))
            })?;
            let (rows, d) = var.as_tensor().dims2()?;
            let mut values = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            self.mix(&mut values, k.min(rows), d, &mut rng);
            var.set(&Tensor::from_vec(
                values,
                (rows, d),
                var.as_tensor().device(),
            )?)?;
        }
        Ok(())
    }
}
