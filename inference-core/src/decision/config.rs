//! The decision model's configuration and token ids.

use serde::{Deserialize, Serialize};

use super::DecisionError;
use crate::perception::{MAX_REACTION_S, MIN_REACTION_S};

/// Number of special tokens placed after the K content labels: BOS and PAD.
pub const NUM_SPECIAL_TOKENS: usize = 2;

/// Sizes, look-ahead and context of a decision model. Saved as JSON next to its weights.
///
/// Token ids: content labels are `0..vocab_size`; [`DecisionConfig::bos`] (`vocab_size`) starts both
/// streams, [`DecisionConfig::pad`] (`vocab_size + 1`) fills the end of windows that run past a
/// piece. The output layer only has `vocab_size` classes, so special tokens can never be sampled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionConfig {
    /// Number of content labels K (the codebook size).
    pub vocab_size: usize,
    /// Width of the model.
    pub d_model: usize,
    /// Attention heads; must divide `d_model`, and the head width must be even (rotary).
    pub num_heads: usize,
    /// Encoder layers (over A).
    pub encoder_layers: usize,
    /// Decoder layers (over B, cross-attending to A).
    pub decoder_layers: usize,
    /// Hidden width of the feed-forward blocks.
    pub ffn_dim: usize,
    /// Sliding context N, in segments: every attention sees at most this many keys.
    pub context: usize,
    /// Look-ahead L, in segments: B at segment t sees A up to segment t − 1 + L.
    pub lookahead: usize,
    /// Dropout probability during training.
    pub dropout: f32,
    /// Base of the rotary position frequencies.
    pub rope_theta: f64,
    /// Epsilon of the layer norms.
    pub layer_norm_eps: f64,
    /// The reaction window W in seconds (live models only; 0: none, as in every model before
    /// it). With a window, guide position `t` also holds the token of the first W of guide
    /// segment `t` (`p_t`), so the decision for slot `t` hears the start of the note it
    /// accompanies (see the timing contract in [`crate::decision`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reaction_s: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl DecisionConfig {
    /// The default model for a codebook of `vocab_size` labels and look-ahead `lookahead`.
    pub fn new(vocab_size: usize, lookahead: usize) -> Self {
        Self {
            vocab_size,
            d_model: 256,
            num_heads: 4,
            encoder_layers: 3,
            decoder_layers: 3,
            ffn_dim: 1024,
            context: 64,
            lookahead,
            dropout: 0.1,
            rope_theta: 10_000.0,
            layer_norm_eps: 1e-5,
            reaction_s: 0.0,
        }
    }

    /// Whether the model hears a reaction window ([`Self::reaction_s`] > 0).
    pub fn has_window(&self) -> bool {
        self.reaction_s > 0.0
    }

    /// Id of the begin-of-stream token.
    pub fn bos(&self) -> u32 {
        self.vocab_size as u32
    }

    /// Id of the padding token.
    pub fn pad(&self) -> u32 {
        self.vocab_size as u32 + 1
    }

    /// Rows of the embedding table: content labels plus special tokens.
    pub fn embedding_rows(&self) -> usize {
        self.vocab_size + NUM_SPECIAL_TOKENS
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.num_heads
    }

    /// Checks that the sizes fit together.
    pub fn validate(&self) -> Result<(), DecisionError> {
        let bad = |m: &str| Err(DecisionError::InvalidConfig(m.to_string()));
        if self.vocab_size == 0 {
            return bad("vocab_size must be at least 1");
        }
        if self.vocab_size + NUM_SPECIAL_TOKENS > u32::MAX as usize {
            return bad("vocab_size does not fit in u32 token ids");
        }
        if self.num_heads == 0 || self.d_model == 0 || !self.d_model.is_multiple_of(self.num_heads)
        {
            return bad("d_model must be a positive multiple of num_heads");
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad("the head width d_model / num_heads must be even (rotary positions)");
        }
        if self.encoder_layers == 0 || self.decoder_layers == 0 {
            return bad("encoder_layers and decoder_layers must be at least 1");
        }
        if self.ffn_dim == 0 {
            return bad("ffn_dim must be at least 1");
        }
        if self.context == 0 {
            return bad("context must be at least 1 segment");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout must be in [0, 1)");
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return bad("rope_theta must be finite and > 1");
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return bad("layer_norm_eps must be finite and > 0");
        }
        if !(self.reaction_s == 0.0
            || (self.reaction_s.is_finite()
                && (MIN_REACTION_S..=MAX_REACTION_S).contains(&self.reaction_s)))
        {
            return bad(&format!(
                "reaction_s {} is neither 0 nor within {MIN_REACTION_S}..={MAX_REACTION_S} s",
                self.reaction_s
            ));
        }
        if self.has_window() && self.lookahead != 0 {
            return bad("a reaction window is for live models (look-ahead 0) only");
        }
        Ok(())
    }

    /// Checks that `token` is a content label or a special token.
    pub fn check_token(&self, token: u32) -> Result<(), DecisionError> {
        if (token as usize) < self.embedding_rows() {
            Ok(())
        } else {
            Err(DecisionError::TokenOutOfRange {
                token,
                vocab: self.vocab_size,
                specials: NUM_SPECIAL_TOKENS,
            })
        }
    }
}
