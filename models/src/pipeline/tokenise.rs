//! Quantising encoded tracks with a codebook: one token per segment, with the run-time
//! quantiser ([`Codebook::quantise`]).

use std::collections::BTreeMap;

use counterpart_core::perception::Codebook;

use crate::data::dataset::{TokenCorpus, TokenisedPiece};
use crate::pipeline::encode::{EncodedSet, EncodedTrack};
use crate::pipeline::PipelineError;

impl EncodedTrack {
    /// The tokens of the segments under `codebook` (the run-time quantiser).
    pub fn tokens(&self, codebook: &Codebook) -> Result<Vec<u32>, PipelineError> {
        self.vectors
            .chunks_exact(self.dim)
            .map(|v| codebook.quantise(v).map_err(PipelineError::from))
            .collect()
    }

    /// The tokens of the segments' reaction windows under `codebook` (empty without windows).
    pub fn window_tokens(&self, codebook: &Codebook) -> Result<Vec<u32>, PipelineError> {
        self.windows
            .chunks_exact(self.dim)
            .map(|v| codebook.quantise(v).map_err(PipelineError::from))
            .collect()
    }
}

impl EncodedSet {
    /// Quantises every track with `codebook`. The tracks of a piece are cut to the piece's
    /// shortest track, so that all are on one segment grid.
    pub fn tokenise(&self, codebook: &Codebook) -> Result<TokenCorpus, PipelineError> {
        let mut pieces = Vec::new();
        for (id, tracks) in &self.pieces {
            let shortest = tracks.values().map(|t| t.segments.len()).min().unwrap_or(0);
            let (mut out, mut windows) = (BTreeMap::new(), BTreeMap::new());
            for (key, t) in tracks {
                let mut tokens = t.tokens(codebook)?;
                tokens.truncate(shortest);
                out.insert(key.clone(), tokens);
                if !t.windows.is_empty() {
                    let mut tokens = t.window_tokens(codebook)?;
                    tokens.truncate(shortest);
                    windows.insert(key.clone(), tokens);
                }
            }
            pieces.push(TokenisedPiece {
                id: id.clone(),
                tracks: out,
                windows,
            });
        }
        Ok(TokenCorpus {
            vocab_size: codebook.k(),
            pieces,
        })
    }
}
