//! Decision: the causal Transformer that predicts B's next token, and its sampler.
//!
//! * [`config`]: the model's sizes, its look-ahead and its token ids ([`DecisionConfig`]).
//! * [`model`]: the encoder–decoder Transformer and its teacher-forced forward pass
//!   ([`DecisionModel`]), with checkpoint I/O (safetensors + JSON config).
//! * [`stream`]: the incremental, KV-cached step the worker thread runs once per segment
//!   ([`DecisionStream`]).
//! * [`sampler`]: temperature, top-k, top-p, the corpus constraint and the follow ↔ free blend
//!   ([`Sampler`]).
//!
//! # Timing contract
//! At segment boundary `t` the worker knows A's tokens `a_0 ..= a_{t-1+L}` and B's tokens
//! `b_0 ..= b_{t-1}` (what it chose), and asks for the distribution of `b_t`. `L` is the
//! look-ahead: 0 is the live mode, 1 the aligned mode.
//!
//! The encoder reads `[BOS, a_0, a_1, …]`, so encoder position `j` holds `a_{j-1}`; the decoder
//! reads `[BOS, b_0, b_1, …]`, so decoder position `p` holds `b_{p-1}` and predicts `b_p`.
//! Decoder position `p` cross-attends to encoder positions `≤ p + L`, i.e. to `a_{≤ p-1+L}`.
//! Every attention is causal, so encoder states never change once computed and can be cached.
//!
//! # Reaction window
//! A live model (`L = 0`) may also hear the start of the segment it answers: with a reaction
//! window W ([`DecisionConfig::reaction_s`]), encoder position `j` also holds `p_j`, the token
//! of the first W of guide segment `j`, as a second embedding added to `a_{j-1}`'s. Decoder
//! position `t` then sees `a_0 ..= a_{t-1}` whole and `p_0 ..= p_t`: `b_t` is chosen W after
//! segment `t` begins, from the note being played. The window is cut, encoded and quantised the
//! same way in training, in evaluation and at run time (perception's partial segments).
//!
//! # Sliding context
//! Every attention (encoder self, decoder self, decoder cross) sees at most the `N = context` most
//! recent keys: query position `i` attends to keys `j` with `i' - N < j ≤ i'`, where `i' = i` for
//! self-attention and `i' = i + L` for cross-attention. Positions are rotary (RoPE), so attention
//! depends only on the offset `i - j`: absolute positions keep growing while the window slides,
//! and cached keys never need re-indexing (absolute sinusoidal encodings would change every key's
//! code each time the window moved). The streaming step therefore computes exactly the teacher-forced
//! pass over the whole stream with this banded mask; for the first `N` segments that is the plain
//! full pass over the window. Beyond `N` segments, as in any sliding-window Transformer, deeper
//! layers carry some information from further back through the cached states.

pub mod config;
pub mod error;
pub mod init;
pub mod model;
pub mod sampler;
pub mod stream;

pub use config::DecisionConfig;
pub use error::DecisionError;
pub use init::{seeded_model, LabelInit};
pub use model::DecisionModel;
pub use sampler::{Sampler, SamplerSettings, DEFAULT_TEMPERATURE};
pub use stream::DecisionStream;
