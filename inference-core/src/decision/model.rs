//! The decision Transformer: a pre-LN encoder–decoder over token ids with rotary positions and
//! banded causal attention (see the module docs of [`crate::decision`] for the timing contract).
//!
//! Written in the style of candle-transformers: plain structs built from a [`VarBuilder`], one
//! `forward` per block. The same blocks serve the teacher-forced pass ([`DecisionModel::forward`])
//! and the incremental step ([`crate::decision::DecisionStream`]).

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Embedding, Linear, VarBuilder, VarMap};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::error::Result;
use super::{DecisionConfig, DecisionError};

/// File name of the weights inside a checkpoint folder.
pub const WEIGHTS_FILE: &str = "decision.safetensors";
/// File name of the JSON config inside a checkpoint folder.
pub const CONFIG_FILE: &str = "decision.json";

/// Teacher-forcing inputs for one window of a pair: what [`DecisionModel::forward`] reads and
/// what it must predict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeacherForcing {
    /// Encoder input, `len + L` ids: stream position `start + i` holds `a_{start+i-1}`
    /// (BOS before the first segment, PAD past the end of A).
    pub guide: Vec<u32>,
    /// With a reaction window, the second encoder input, `len + L` ids: stream position
    /// `start + i` also holds `p_{start+i}`, the token of the first W of guide segment
    /// `start + i` (PAD past the end of A). Empty for models without a window.
    pub window: Vec<u32>,
    /// Decoder input, `len` ids: stream position `start + i` holds `b_{start+i-1}`
    /// (BOS before the first segment, PAD past the end of B).
    pub response: Vec<u32>,
    /// Targets, `len` ids: `b_{start+i}`, or PAD past the end of B (PAD is ignored by the loss).
    pub targets: Vec<u32>,
}

impl DecisionConfig {
    /// The teacher-forcing window of decoder positions `start .. start + len` over a pair of
    /// token sequences `a` (guide) and `b` (response) of one piece, with `windows` the guide's
    /// reaction-window tokens `p` (aligned with `a`; ignored by models without a window).
    pub fn teacher_forcing(
        &self,
        a: &[u32],
        windows: &[u32],
        b: &[u32],
        start: usize,
        len: usize,
    ) -> TeacherForcing {
        let shifted = |seq: &[u32], pos: usize| -> u32 {
            if pos == 0 {
                self.bos()
            } else {
                seq.get(pos - 1).copied().unwrap_or(self.pad())
            }
        };
        TeacherForcing {
            guide: (start..start + len + self.lookahead)
                .map(|p| shifted(a, p))
                .collect(),
            window: if self.has_window() {
                (start..start + len + self.lookahead)
                    .map(|p| windows.get(p).copied().unwrap_or(self.pad()))
                    .collect()
            } else {
                Vec::new()
            },
            response: (start..start + len).map(|p| shifted(b, p)).collect(),
            targets: (start..start + len)
                .map(|p| b.get(p).copied().unwrap_or(self.pad()))
                .collect(),
        }
    }
}

/// Layer norm that keeps gradients when the graph is tracked (candle's fused kernel drops them)
/// and uses the fused kernel otherwise.
#[derive(Clone, Debug)]
pub(crate) struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn new(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get_with_hints(dim, "weight", candle_nn::Init::Const(1.0))?,
            bias: vb.get_with_hints(dim, "bias", candle_nn::Init::Const(0.0))?,
            eps: eps as f32,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.track_op() || self.weight.track_op() {
            Ok(candle_nn::ops::layer_norm_slow(
                x,
                &self.weight,
                &self.bias,
                self.eps,
            )?)
        } else {
            Ok(candle_nn::ops::layer_norm(
                &x.contiguous()?,
                &self.weight,
                &self.bias,
                self.eps,
            )?)
        }
    }
}

/// Softmax over the last dimension, differentiable when the graph is tracked.
fn softmax_last(x: &Tensor) -> Result<Tensor> {
    if x.track_op() {
        Ok(candle_nn::ops::softmax(x, D::Minus1)?)
    } else {
        Ok(candle_nn::ops::softmax_last_dim(x)?)
    }
}

/// Rotary position encoding (non-interleaved halves, as `candle_nn::rotary_emb::rope`).
#[derive(Clone, Debug)]
pub(crate) struct Rotary {
    inv_freq: Vec<f64>,
}

impl Rotary {
    fn new(head_dim: usize, theta: f64) -> Self {
        let inv_freq = (0..head_dim / 2)
            .map(|i| theta.powf(-(2.0 * i as f64) / head_dim as f64))
            .collect();
        Self { inv_freq }
    }

    /// `(cos, sin)` tables of shape `(len, head_dim / 2)` for positions `start .. start + len`.
    /// Angles are computed in f64 so that large stream positions keep their precision.
    pub(crate) fn tables(
        &self,
        start: usize,
        len: usize,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for p in start..start + len {
            for &f in &self.inv_freq {
                let angle = p as f64 * f;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Ok((
            Tensor::from_vec(cos, (len, half), device)?,
            Tensor::from_vec(sin, (len, half), device)?,
        ))
    }

    /// Rotates `x` of shape `(batch, heads, len, head_dim)` by the given tables.
    pub(crate) fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        if x.track_op() {
            Ok(candle_nn::rotary_emb::rope_slow(x, cos, sin)?)
        } else {
            Ok(candle_nn::rotary_emb::rope(&x.contiguous()?, cos, sin)?)
        }
    }
}

/// Inverted dropout with a caller-owned seeded generator, so that training is reproducible
/// (candle's CPU device RNG cannot be seeded).
fn dropout(x: &Tensor, p: f32, rng: Option<&mut ChaCha8Rng>) -> Result<Tensor> {
    let Some(rng) = rng else {
        return Ok(x.clone());
    };
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let scale = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.random::<f32>() < p { 0.0 } else { scale })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    Ok((x * mask)?)
}

/// Multi-head attention projections.
#[derive(Clone, Debug)]
pub(crate) struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    num_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(cfg: &DecisionConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        Ok(Self {
            q_proj: candle_nn::linear(d, d, vb.pp("q_proj"))?,
            k_proj: candle_nn::linear(d, d, vb.pp("k_proj"))?,
            v_proj: candle_nn::linear(d, d, vb.pp("v_proj"))?,
            o_proj: candle_nn::linear(d, d, vb.pp("o_proj"))?,
            num_heads: cfg.num_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// `(batch, len, d_model)` → `(batch, heads, len, head_dim)`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        Ok(x.reshape((b, t, self.num_heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()?)
    }

    /// Rotated, pre-scaled queries of `x` at the rotary tables `(cos, sin)`.
    pub(crate) fn queries(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let q = self.split_heads(&self.q_proj.forward(x)?)?;
        let q = Rotary::apply(&q, cos, sin)?;
        Ok((q * (1.0 / (self.head_dim as f64).sqrt()))?)
    }

    /// Rotated keys and plain values of `x` at the rotary tables `(cos, sin)`.
    pub(crate) fn keys_values(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let k = self.split_heads(&self.k_proj.forward(x)?)?;
        let k = Rotary::apply(&k, cos, sin)?;
        let v = self.split_heads(&self.v_proj.forward(x)?)?;
        Ok((k, v))
    }

    /// Attention of queries `(b, h, tq, dh)` over keys and values `(b, h, tk, dh)` with an optional
    /// additive mask `(tq, tk)`, followed by the output projection: `(b, tq, d_model)`.
    pub(crate) fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let scores = q.matmul(&k.t()?)?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let probs = softmax_last(&scores)?;
        let out = probs.matmul(v)?;
        let (b, _, tq, _) = out.dims4()?;
        let out = out
            .transpose(1, 2)?
            .reshape((b, tq, self.num_heads * self.head_dim))?;
        Ok(self.o_proj.forward(&out)?)
    }
}

/// Position-wise feed-forward block with a GELU (tanh approximation).
#[derive(Clone, Debug)]
pub(crate) struct FeedForward {
    up: Linear,
    down: Linear,
}

impl FeedForward {
    fn new(cfg: &DecisionConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            up: candle_nn::linear(cfg.d_model, cfg.ffn_dim, vb.pp("up"))?,
            down: candle_nn::linear(cfg.ffn_dim, cfg.d_model, vb.pp("down"))?,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.down.forward(&self.up.forward(x)?.gelu()?)?)
    }
}

/// Pre-LN encoder layer: causal self-attention over A, then feed-forward.
#[derive(Clone, Debug)]
pub(crate) struct EncoderLayer {
    pub(crate) self_norm: Norm,
    pub(crate) self_attn: Attention,
    pub(crate) ffn_norm: Norm,
    pub(crate) ffn: FeedForward,
}

impl EncoderLayer {
    fn new(cfg: &DecisionConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            self_norm: Norm::new(cfg.d_model, cfg.layer_norm_eps, vb.pp("self_norm"))?,
            self_attn: Attention::new(cfg, vb.pp("self_attn"))?,
            ffn_norm: Norm::new(cfg.d_model, cfg.layer_norm_eps, vb.pp("ffn_norm"))?,
            ffn: FeedForward::new(cfg, vb.pp("ffn"))?,
        })
    }
}

/// Pre-LN decoder layer: causal self-attention over B, cross-attention to A, feed-forward.
#[derive(Clone, Debug)]
pub(crate) struct DecoderLayer {
    pub(crate) self_norm: Norm,
    pub(crate) self_attn: Attention,
    pub(crate) cross_norm: Norm,
    pub(crate) cross_attn: Attention,
    pub(crate) ffn_norm: Norm,
    pub(crate) ffn: FeedForward,
}

impl DecoderLayer {
    fn new(cfg: &DecisionConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            self_norm: Norm::new(cfg.d_model, cfg.layer_norm_eps, vb.pp("self_norm"))?,
            self_attn: Attention::new(cfg, vb.pp("self_attn"))?,
            cross_norm: Norm::new(cfg.d_model, cfg.layer_norm_eps, vb.pp("cross_norm"))?,
            cross_attn: Attention::new(cfg, vb.pp("cross_attn"))?,
            ffn_norm: Norm::new(cfg.d_model, cfg.layer_norm_eps, vb.pp("ffn_norm"))?,
            ffn: FeedForward::new(cfg, vb.pp("ffn"))?,
        })
    }
}

/// The decision Transformer. Cloning is cheap (weights are shared).
#[derive(Clone, Debug)]
pub struct DecisionModel {
    pub(crate) config: DecisionConfig,
    pub(crate) embed: Embedding,
    /// The reaction window's embedding, added to the guide's (models with a window only).
    pub(crate) window_embed: Option<Embedding>,
    pub(crate) encoder: Vec<EncoderLayer>,
    pub(crate) encoder_norm: Norm,
    pub(crate) decoder: Vec<DecoderLayer>,
    pub(crate) decoder_norm: Norm,
    pub(crate) head: Linear,
    pub(crate) rotary: Rotary,
    pub(crate) device: Device,
}

impl DecisionModel {
    /// Builds the model from `vb` (a [`VarMap`]-backed builder creates fresh weights; a
    /// safetensors-backed one loads them).
    pub fn new(config: &DecisionConfig, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let d = config.d_model;
        // Built in this order: seeded initialisation draws the weights in the order asked.
        let embed = token_embedding(config, vb.pp("embed"))?;
        let window_embed = if config.has_window() {
            Some(token_embedding(config, vb.pp("window_embed"))?)
        } else {
            None
        };
        let encoder = (0..config.encoder_layers)
            .map(|i| EncoderLayer::new(config, vb.pp(format!("encoder.layers.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        let decoder = (0..config.decoder_layers)
            .map(|i| DecoderLayer::new(config, vb.pp(format!("decoder.layers.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embed,
            window_embed,
            encoder,
            encoder_norm: Norm::new(d, config.layer_norm_eps, vb.pp("encoder.norm"))?,
            decoder,
            decoder_norm: Norm::new(d, config.layer_norm_eps, vb.pp("decoder.norm"))?,
            head: candle_nn::linear(d, config.vocab_size, vb.pp("head"))?,
            rotary: Rotary::new(config.head_dim(), config.rope_theta),
            device: vb.device().clone(),
            config: config.clone(),
        })
    }

    /// Loads a checkpoint folder holding [`CONFIG_FILE`] and [`WEIGHTS_FILE`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| DecisionError::Io { path, source })
        };
        let config: DecisionConfig = serde_json::from_slice(&read(CONFIG_FILE)?)?;
        Self::from_bytes(&config, read(WEIGHTS_FILE)?, device)
    }

    /// Builds the model from a config and the bytes of a safetensors file (e.g. embedded in a
    /// preset).
    pub fn from_bytes(config: &DecisionConfig, weights: Vec<u8>, device: &Device) -> Result<Self> {
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, device)?;
        Self::new(config, vb)
    }

    /// The model's configuration.
    pub fn config(&self) -> &DecisionConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The encoder's input at guide positions `guide` `(batch, tg)`, with their reaction-window
    /// tokens `window` (same shape) for a model with a window.
    pub(crate) fn embed_guide(&self, guide: &Tensor, window: Option<&Tensor>) -> Result<Tensor> {
        let h = self.embed.forward(guide)?;
        match (&self.window_embed, window) {
            (None, None) => Ok(h),
            (Some(embed), Some(window)) if window.dims() == guide.dims() => {
                Ok((h + embed.forward(window)?)?)
            }
            (Some(_), _) => Err(DecisionError::InvalidConfig(format!(
                "a model with a reaction window needs window tokens shaped as the guide's {:?}",
                guide.dims()
            ))),
            (None, Some(_)) => Err(DecisionError::InvalidConfig(
                "window tokens given to a model without a reaction window".into(),
            )),
        }
    }

    /// Teacher-forced pass over windows of the stream.
    ///
    /// `guide`: encoder input ids `(batch, tg)`; `window`: the reaction-window ids, same shape
    /// (models with a window only, else `None`); `response`: decoder input ids `(batch, t)`, all
    /// starting at the same stream position, with `tg ≥ t + L` (see [`TeacherForcing`]). Returns
    /// logits over the K content labels, `(batch, t, K)`. Attention is causal and banded to the
    /// config's context. With `rng`, dropout is applied (training); without, the pass is
    /// deterministic.
    pub fn forward(
        &self,
        guide: &Tensor,
        window: Option<&Tensor>,
        response: &Tensor,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> Result<Tensor> {
        let cfg = &self.config;
        let (b, tg) = guide.dims2()?;
        let (b2, t) = response.dims2()?;
        if b != b2 || tg < t + cfg.lookahead || t == 0 {
            return Err(DecisionError::InvalidConfig(format!(
                "forward needs guide (batch, ≥ t + L) and response (batch, t ≥ 1); got guide {:?}, \
                 response {:?}, L = {}",
                guide.dims(),
                response.dims(),
                cfg.lookahead
            )));
        }
        let p = cfg.dropout;
        let (cos, sin) = self.rotary.tables(0, tg, &self.device)?;
        let (cos_t, sin_t) = (cos.narrow(0, 0, t)?, sin.narrow(0, 0, t)?);

        // Encoder over A.
        let enc_mask = band_mask(tg, tg, 0, cfg.context, &self.device)?;
        let mut h = dropout(&self.embed_guide(guide, window)?, p, rng.as_deref_mut())?;
        for layer in &self.encoder {
            let x = layer.self_norm.forward(&h)?;
            let q = layer.self_attn.queries(&x, &cos, &sin)?;
            let (k, v) = layer.self_attn.keys_values(&x, &cos, &sin)?;
            let a = layer.self_attn.attend(&q, &k, &v, Some(&enc_mask))?;
            h = (h + dropout(&a, p, rng.as_deref_mut())?)?;
            let f = layer.ffn.forward(&layer.ffn_norm.forward(&h)?)?;
            h = (h + dropout(&f, p, rng.as_deref_mut())?)?;
        }
        let memory = self.encoder_norm.forward(&h)?;

        // Decoder over B, cross-attending to A.
        let self_mask = band_mask(t, t, 0, cfg.context, &self.device)?;
        let cross_mask = band_mask(t, tg, cfg.lookahead, cfg.context, &self.device)?;
        let mut h = dropout(&self.embed.forward(response)?, p, rng.as_deref_mut())?;
        for layer in &self.decoder {
            let x = layer.self_norm.forward(&h)?;
            let q = layer.self_attn.queries(&x, &cos_t, &sin_t)?;
            let (k, v) = layer.self_attn.keys_values(&x, &cos_t, &sin_t)?;
            let a = layer.self_attn.attend(&q, &k, &v, Some(&self_mask))?;
            h = (h + dropout(&a, p, rng.as_deref_mut())?)?;
            let x = layer.cross_norm.forward(&h)?;
            let q = layer.cross_attn.queries(&x, &cos_t, &sin_t)?;
            let (k, v) = layer.cross_attn.keys_values(&memory, &cos, &sin)?;
            let a = layer.cross_attn.attend(&q, &k, &v, Some(&cross_mask))?;
            h = (h + dropout(&a, p, rng.as_deref_mut())?)?;
            let f = layer.ffn.forward(&layer.ffn_norm.forward(&h)?)?;
            h = (h + dropout(&f, p, rng.as_deref_mut())?)?;
        }
        Ok(self.head.forward(&self.decoder_norm.forward(&h)?)?)
    }
}

/// A table of one `d_model` vector per token id (content labels and special tokens), drawn
/// from a standard normal when fresh.
fn token_embedding(config: &DecisionConfig, vb: VarBuilder) -> Result<Embedding> {
    let weight = vb.get_with_hints(
        (config.embedding_rows(), config.d_model),
        "weight",
        candle_nn::Init::Randn {
            mean: 0.0,
            stdev: 1.0,
        },
    )?;
    Ok(Embedding::new(weight, config.d_model))
}

/// Additive mask `(tq, tk)`: query `i` may see key `j` iff `i + shift − context < j ≤ i + shift`.
fn band_mask(
    tq: usize,
    tk: usize,
    shift: usize,
    context: usize,
    device: &Device,
) -> Result<Tensor> {
    let mask: Vec<f32> = (0..tq)
        .flat_map(|i| {
            let last = i + shift;
            (0..tk).map(move |j| {
                if j <= last && j + context > last {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Ok(Tensor::from_vec(mask, (tq, tk), device)?)
}

/// Saves `varmap`'s weights and `config` as a checkpoint folder ([`WEIGHTS_FILE`] and
/// [`CONFIG_FILE`]), creating the folder if needed.
pub fn save_checkpoint(dir: &Path, config: &DecisionConfig, varmap: &VarMap) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| DecisionError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    varmap.save(dir.join(WEIGHTS_FILE))?;
    let path = dir.join(CONFIG_FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(config)?)
        .map_err(|source| DecisionError::Io { path, source })
}
