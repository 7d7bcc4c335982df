//! Incremental decision with KV caches over a sliding context: the worker thread's per-segment
//! step.
//!
//! Owned by the worker thread. Each attention keeps a ring buffer of the `N = context` most recent
//! rotated keys and values; since rotary attention depends only on position offsets, and softmax
//! attention does not depend on the order of its keys, the ring needs no re-indexing when it wraps.
//! The step computes the same function as [`DecisionModel::forward`] over the whole stream.

use candle_core::{Module, Tensor};

use super::error::Result;
use super::model::{Attention, DecisionModel};
use super::DecisionError;

/// Ring buffer of the last `capacity` keys and values of one attention.
#[derive(Debug)]
struct RingKv {
    keys: Tensor,
    values: Tensor,
    capacity: usize,
    written: usize,
    /// What the last push overwrote, once the ring was full (for [`RingKv::pop`]).
    evicted: Option<(Tensor, Tensor)>,
}

impl RingKv {
    fn new(model: &DecisionModel) -> Result<Self> {
        let cfg = model.config();
        let shape = (1, cfg.num_heads, cfg.context, cfg.head_dim());
        Ok(Self {
            keys: Tensor::zeros(shape, candle_core::DType::F32, model.device())?,
            values: Tensor::zeros(shape, candle_core::DType::F32, model.device())?,
            capacity: cfg.context,
            written: 0,
            evicted: None,
        })
    }

    /// Stores one position's key and value `(1, heads, 1, head_dim)`, evicting the oldest.
    fn push(&mut self, k: &Tensor, v: &Tensor) -> Result<()> {
        let slot = self.written % self.capacity;
        self.evicted = if self.written >= self.capacity {
            Some((
                self.keys.narrow(2, slot, 1)?.force_contiguous()?,
                self.values.narrow(2, slot, 1)?.force_contiguous()?,
            ))
        } else {
            None
        };
        self.keys.slice_set(&k.contiguous()?, 2, slot)?;
        self.values.slice_set(&v.contiguous()?, 2, slot)?;
        self.written += 1;
        Ok(())
    }

    /// Takes back the last push (one only: what it overwrote is put back).
    fn pop(&mut self) -> Result<()> {
        self.written = self.written.saturating_sub(1);
        if let Some((k, v)) = self.evicted.take() {
            let slot = self.written % self.capacity;
            self.keys.slice_set(&k, 2, slot)?;
            self.values.slice_set(&v, 2, slot)?;
        }
        Ok(())
    }

    /// Attention of `q` over the stored keys.
    fn attend(&self, attn: &Attention, q: &Tensor) -> Result<Tensor> {
        let n = self.written.min(self.capacity);
        let (k, v) = if n == self.capacity {
            (self.keys.clone(), self.values.clone())
        } else {
            (
                self.keys.narrow(2, 0, n)?.contiguous()?,
                self.values.narrow(2, 0, n)?.contiguous()?,
            )
        };
        attn.attend(q, &k, &v, None)
    }

    fn clear(&mut self) {
        self.written = 0;
        self.evicted = None;
    }
}

/// Streaming state of one guide/response pair: feed A's tokens with [`DecisionStream::push_guide`],
/// ask for B's next logits with [`DecisionStream::next_logits`], commit the chosen token with
/// [`DecisionStream::push_response`].
///
/// Order at segment `t` (look-ahead `L`): A must hold exactly `t + L` tokens when
/// `next_logits` is called; then `push_response(b_t)` moves to `t + 1`.
///
/// A model with a reaction window also takes the window of each guide segment with
/// [`DecisionStream::push_window`]: guide position `t` is encoded once `p_t` arrives, from it
/// and the last whole token pushed before it (`a_{t−1}`, BOS at first), and `b_t` can then be
/// asked for. A whole token that no window follows (its next segment was too short, or the
/// guide rested) is replaced by the next one, as a rest drops out of the stream.
#[derive(Debug)]
pub struct DecisionStream {
    model: DecisionModel,
    encoder_self: Vec<RingKv>,
    decoder_self: Vec<RingKv>,
    decoder_cross: Vec<RingKv>,
    /// A tokens pushed so far (without a window: encoder positions `1..=guide_len`; position
    /// 0 is BOS).
    guide_len: usize,
    /// With a reaction window: the last whole A token pushed (BOS at first), which the next
    /// window's position holds, the one the last encoded position holds, and the number of
    /// positions encoded.
    last_guide: u32,
    window_guide: u32,
    positions: usize,
    /// B tokens committed so far (`t`).
    response_len: usize,
    /// Last committed B token, or BOS, and the one before it.
    last_response: u32,
    previous_response: u32,
    /// Logits for `b_t`, valid when `logits_ready`.
    logits: Vec<f32>,
    logits_ready: bool,
}

impl DecisionStream {
    /// A fresh stream over `model` (weights are shared, caches are allocated here).
    pub fn new(model: &DecisionModel) -> Result<Self> {
        let cfg = model.config();
        let rings = |n: usize| {
            (0..n)
                .map(|_| RingKv::new(model))
                .collect::<Result<Vec<_>>>()
        };
        let mut stream = Self {
            model: model.clone(),
            encoder_self: rings(cfg.encoder_layers)?,
            decoder_self: rings(cfg.decoder_layers)?,
            decoder_cross: rings(cfg.decoder_layers)?,
            guide_len: 0,
            last_guide: cfg.bos(),
            window_guide: cfg.bos(),
            positions: 0,
            response_len: 0,
            last_response: cfg.bos(),
            previous_response: cfg.bos(),
            logits: vec![0.0; cfg.vocab_size],
            logits_ready: false,
        };
        stream.reset()?;
        Ok(stream)
    }

    /// The model this stream runs.
    pub fn model(&self) -> &DecisionModel {
        &self.model
    }

    /// Forgets both streams and starts again from BOS.
    pub fn reset(&mut self) -> Result<()> {
        for ring in self
            .encoder_self
            .iter_mut()
            .chain(&mut self.decoder_self)
            .chain(&mut self.decoder_cross)
        {
            ring.clear();
        }
        let bos = self.model.config().bos();
        self.guide_len = 0;
        self.last_guide = bos;
        self.window_guide = bos;
        self.positions = 0;
        self.response_len = 0;
        self.last_response = bos;
        self.previous_response = bos;
        self.logits_ready = false;
        if self.model.config().has_window() {
            // Position 0 waits for the first segment's window.
            Ok(())
        } else {
            self.encode(bos, None, 0)
        }
    }

    /// Number of A tokens pushed so far.
    pub fn guide_len(&self) -> usize {
        self.guide_len
    }

    /// Number of B tokens committed so far, i.e. the segment `t` whose token is asked next.
    pub fn response_len(&self) -> usize {
        self.response_len
    }

    /// Appends A's next token `a_{guide_len}`. A may run at most `L` segments ahead of B.
    /// With a reaction window, the token waits for the next segment's window.
    pub fn push_guide(&mut self, token: u32) -> Result<()> {
        let cfg = self.model.config();
        cfg.check_token(token)?;
        if cfg.has_window() {
            self.last_guide = token;
            self.guide_len += 1;
            return Ok(());
        }
        if self.guide_len >= self.response_len + cfg.lookahead {
            return Err(DecisionError::OutOfOrder(format!(
                "A already holds {} tokens, the most allowed before b_{} is chosen (L = {})",
                self.guide_len, self.response_len, cfg.lookahead
            )));
        }
        self.encode(token, None, self.guide_len + 1)?;
        self.guide_len += 1;
        Ok(())
    }

    /// Appends the reaction window `p_t` of the next guide segment (models with a window
    /// only): encodes guide position `t` from it and the last whole token, after which `b_t`
    /// can be asked for.
    pub fn push_window(&mut self, token: u32) -> Result<()> {
        let cfg = self.model.config();
        if !cfg.has_window() {
            return Err(DecisionError::OutOfOrder(
                "push_window on a model without a reaction window".into(),
            ));
        }
        cfg.check_token(token)?;
        if self.positions > self.response_len {
            return Err(DecisionError::OutOfOrder(format!(
                "the window of segment {} arrived before b_{} was chosen",
                self.positions, self.response_len
            )));
        }
        self.encode(self.last_guide, Some(token), self.positions)?;
        self.window_guide = self.last_guide;
        self.positions += 1;
        Ok(())
    }

    /// Whether [`Self::revise_window`] can take back `b_{t−1}`: a model with a reaction window
    /// that has committed `b_{t−1}` and has had no later window.
    pub fn can_revise(&self) -> bool {
        self.model.config().has_window()
            && self.response_len > 0
            && self.positions == self.response_len
    }

    /// Takes back the last committed token `b_{t−1}` and the window its position was encoded
    /// with, and encodes that position again with the window `token` (heard later in the same
    /// guide segment, at a new note): the logits for `b_{t−1}` are then asked for again and the
    /// new choice committed with [`Self::push_response`]. The stream is then exactly as if
    /// `token` had been that segment's window.
    pub fn revise_window(&mut self, token: u32) -> Result<()> {
        self.model.config().check_token(token)?;
        if !self.can_revise() {
            return Err(DecisionError::OutOfOrder(format!(
                "no decision to revise: {} positions encoded, {} responses committed",
                self.positions, self.response_len
            )));
        }
        for ring in self
            .encoder_self
            .iter_mut()
            .chain(&mut self.decoder_self)
            .chain(&mut self.decoder_cross)
        {
            ring.pop()?;
        }
        self.response_len -= 1;
        self.last_response = self.previous_response;
        self.positions -= 1;
        self.logits_ready = false;
        self.encode(self.window_guide, Some(token), self.positions)?;
        self.positions += 1;
        Ok(())
    }

    /// Whether [`Self::next_logits`] has all it needs for `b_t`: `t + L` A tokens, or with a
    /// reaction window, guide position `t`.
    pub fn ready(&self) -> bool {
        let cfg = self.model.config();
        if cfg.has_window() {
            self.positions == self.response_len + 1
        } else {
            self.guide_len == self.response_len + cfg.lookahead
        }
    }

    /// Logits over the K content labels for `b_t`, `t = response_len()`. Needs exactly `t + L`
    /// A tokens. Calling it again before [`Self::push_response`] returns the same logits.
    pub fn next_logits(&mut self) -> Result<&[f32]> {
        if self.logits_ready {
            return Ok(&self.logits);
        }
        if !self.ready() {
            let cfg = self.model.config();
            return Err(DecisionError::OutOfOrder(if cfg.has_window() {
                format!(
                    "b_{} needs the window of guide segment {}, and {} positions are encoded",
                    self.response_len, self.response_len, self.positions
                )
            } else {
                format!(
                    "b_{} needs {} A tokens (L = {}), got {}",
                    self.response_len,
                    self.response_len + cfg.lookahead,
                    cfg.lookahead,
                    self.guide_len
                )
            }));
        }
        let logits = self.decode(self.last_response, self.response_len)?;
        self.logits
            .copy_from_slice(&logits.flatten_all()?.to_vec1::<f32>()?);
        self.logits_ready = true;
        Ok(&self.logits)
    }

    /// Commits `b_t` (normally the sampled label) and moves to segment `t + 1`.
    pub fn push_response(&mut self, token: u32) -> Result<()> {
        if !self.logits_ready {
            return Err(DecisionError::OutOfOrder(format!(
                "push_response(b_{}) before next_logits()",
                self.response_len
            )));
        }
        self.model.config().check_token(token)?;
        self.previous_response = self.last_response;
        self.last_response = token;
        self.response_len += 1;
        self.logits_ready = false;
        Ok(())
    }

    /// Runs the encoder for one token (and its window's, with a reaction window) at encoder
    /// position `pos` and stores its keys and values, and the cross-attention keys and values of
    /// every decoder layer.
    fn encode(&mut self, token: u32, window: Option<u32>, pos: usize) -> Result<()> {
        let model = &self.model;
        let (cos, sin) = model.rotary.tables(pos, 1, &model.device)?;
        let ids = Tensor::new(&[[token]], &model.device)?;
        let window = window
            .map(|w| Tensor::new(&[[w]], &model.device))
            .transpose()?;
        let mut h = model.embed_guide(&ids, window.as_ref())?;
        for (layer, ring) in model.encoder.iter().zip(&mut self.encoder_self) {
            let x = layer.self_norm.forward(&h)?;
            let q = layer.self_attn.queries(&x, &cos, &sin)?;
            let (k, v) = layer.self_attn.keys_values(&x, &cos, &sin)?;
            ring.push(&k, &v)?;
            h = (h + ring.attend(&layer.self_attn, &q)?)?;
            h = (&h + layer.ffn.forward(&layer.ffn_norm.forward(&h)?)?)?;
        }
        let memory = model.encoder_norm.forward(&h)?;
        for (layer, ring) in model.decoder.iter().zip(&mut self.decoder_cross) {
            let (k, v) = layer.cross_attn.keys_values(&memory, &cos, &sin)?;
            ring.push(&k, &v)?;
        }
        Ok(())
    }

    /// Runs the decoder for input `token` at decoder position `pos`; returns logits `(1, 1, K)`.
    fn decode(&mut self, token: u32, pos: usize) -> Result<Tensor> {
        let model = &self.model;
        let (cos, sin) = model.rotary.tables(pos, 1, &model.device)?;
        let ids = Tensor::new(&[[token]], &model.device)?;
        let mut h = model.embed.forward(&ids)?;
        for ((layer, self_ring), cross_ring) in model
            .decoder
            .iter()
            .zip(&mut self.decoder_self)
            .zip(&self.decoder_cross)
        {
            let x = layer.self_norm.forward(&h)?;
            let q = layer.self_attn.queries(&x, &cos, &sin)?;
            let (k, v) = layer.self_attn.keys_values(&x, &cos, &sin)?;
            self_ring.push(&k, &v)?;
            h = (h + self_ring.attend(&layer.self_attn, &q)?)?;
            let x = layer.cross_norm.forward(&h)?;
            let q = layer.cross_attn.queries(&x, &cos, &sin)?;
            h = (h + cross_ring.attend(&layer.cross_attn, &q)?)?;
            h = (&h + layer.ffn.forward(&layer.ffn_norm.forward(&h)?)?)?;
        }
        Ok(model.head.forward(&model.decoder_norm.forward(&h)?)?)
    }
}
