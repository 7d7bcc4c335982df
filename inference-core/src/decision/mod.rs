//! Decision: the causal Transformer that predicts B's next token, and its sampler.
