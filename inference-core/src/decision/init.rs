//! Seeded weight initialisation of the decision model.
//!
//! candle's CPU random generator cannot be seeded, so models built through a plain
//! `VarBuilder::from_varmap` differ from run to run. [`seeded_model`] draws every initial weight
//! from a ChaCha generator instead, so training runs and tests are reproducible.

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
