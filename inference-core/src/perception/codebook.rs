//! The codebook: K centres, one token per segment vector (the nearest centre).
//!
//! Codebooks are fitted offline (`counterpart-models`' k-means) on pooled segment vectors computed
//! exactly as at run time, and stored as safetensors: one tensor `centres` `[K, dim]` float32 plus
//! string metadata (which encoder, layer, segment length and context produced the vectors).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use super::error::{PerceptionError, Result};

/// The alphabet sizes Counterpart supports.
pub const ALLOWED_K: [usize; 7] = [16, 32, 64, 128, 256, 512, 1024];

/// Name of the centre tensor in codebook files.
const CENTRES: &str = "centres";

/// A frozen k-means codebook. Read-only after construction; shareable between threads.
#[derive(Debug, Clone, PartialEq)]
pub struct Codebook {
    k: usize,
    dim: usize,
    centres: Vec<f32>,
    metadata: HashMap<String, String>,
}

impl Codebook {
    /// A codebook of `k` centres of size `dim` (`centres` is `k · dim` values, centre-major).
    pub fn new(k: usize, dim: usize, centres: Vec<f32>) -> Result<Self> {
        if !ALLOWED_K.contains(&k) {
            return Err(PerceptionError::Codebook(format!(
                "K = {k} is not one of {ALLOWED_K:?}"
            )));
        }
        if dim == 0 || centres.len() != k * dim {
            return Err(PerceptionError::Codebook(format!(
                "{} values cannot be {k} centres of size {dim}",
                centres.len()
            )));
        }
        if let Some(i) = centres.iter().position(|c| !c.is_finite()) {
            return Err(PerceptionError::Codebook(format!(
                "centre {} holds a non-finite value",
                i / dim
            )));
        }
        Ok(Self {
            k,
            dim,
            centres,
            metadata: HashMap::new(),
        })
    }

    /// Attaches descriptive metadata (saved with the codebook).
    pub fn with_metadata(mut self, metadata: HashMap<String, String>) -> Self {
        self.metadata = metadata;
        self
    }

    /// Descriptive metadata.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// Number of centres (the alphabet size).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Size of a vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Centre `i`.
    pub fn centre(&self, i: usize) -> &[f32] {
        &self.centres[i * self.dim..(i + 1) * self.dim]
    }

    /// All centres, centre-major.
    pub fn centres(&self) -> &[f32] {
        &self.centres
    }

    /// The index of the centre nearest to `v` in squared Euclidean distance; ties go to the lower
    /// index. Does not allocate.
    pub fn quantise(&self, v: &[f32]) -> Result<u32> {
        if v.len() != self.dim {
            return Err(PerceptionError::Codebook(format!(
                "vector of size {} for a codebook of size {}",
                v.len(),
                self.dim
            )));
        }
        if !v.iter().all(|x| x.is_finite()) {
            return Err(PerceptionError::Codebook(
                "cannot quantise a vector with non-finite values".into(),
            ));
        }
        let mut best = 0u32;
        let mut best_d = f32::INFINITY;
        for (i, c) in self.centres.chunks_exact(self.dim).enumerate() {
            let d: f32 = c.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum();
            if d < best_d {
                best_d = d;
                best = i as u32;
            }
        }
        Ok(best)
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes: Vec<u8> = self.centres.iter().flat_map(|x| x.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F32, vec![self.k, self.dim], &bytes)
            .map_err(|e| PerceptionError::Codebook(e.to_string()))?;
        let meta = (!self.metadata.is_empty()).then(|| self.metadata.clone());
        safetensors::serialize([(CENTRES, view)], meta)
            .map_err(|e| PerceptionError::Codebook(e.to_string()))
    }

    /// Reads safetensors bytes written by [`Codebook::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let err = |e: &dyn std::fmt::Display| PerceptionError::Codebook(e.to_string());
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| err(&e))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| err(&e))?;
        let t = st.tensor(CENTRES).map_err(|e| err(&e))?;
        if t.dtype() != Dtype::F32 || t.shape().len() != 2 {
            return Err(PerceptionError::Codebook(format!(
                "tensor {CENTRES:?} must be float32 [K, dim], got {:?} {:?}",
                t.dtype(),
                t.shape()
            )));
        }
        let centres = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(Self::new(t.shape()[0], t.shape()[1], centres)?
            .with_metadata(meta.metadata().clone().unwrap_or_default()))
    }

    /// Writes the codebook to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes()?).map_err(|source| PerceptionError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a codebook from `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| PerceptionError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }
}

/// Perplexity of a token sequence over an alphabet of `k`: `exp(entropy)` of the token histogram,
/// from 1 (one token used) to `k` (all used equally). Divide by `k` for codebook usage.
pub fn perplexity(tokens: &[u32], k: usize) -> f64 {
    if tokens.is_empty() {
        return 0.0;
    }
    let mut counts = vec![0usize; k];
    for &t in tokens {
        if let Some(c) = counts.get_mut(t as usize) {
            *c += 1;
        }
    }
    let n = tokens.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum();
    entropy.exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Codebook {
        // 16 centres on a line in 3-D.
        let centres = (0..16)
            .flat_map(|i| [i as f32, 2.0 * i as f32, -1.0])
            .collect();
        Codebook::new(16, 3, centres).unwrap()
    }

    #[test]
    fn quantisation_picks_the_nearest_centre_and_is_deterministic() {
        let cb = book();
        assert_eq!(cb.quantise(&[3.1, 6.3, -1.0]).unwrap(), 3);
        assert_eq!(cb.quantise(&[100.0, 0.0, 0.0]).unwrap(), 15);
        // Exactly halfway between centres 4 and 5: the lower index, every time.
        for _ in 0..10 {
            assert_eq!(cb.quantise(&[4.5, 9.0, -1.0]).unwrap(), 4);
        }
        assert!(cb.quantise(&[1.0, 2.0]).is_err());
        assert!(cb.quantise(&[f32::NAN, 0.0, 0.0]).is_err());
    }

    #[test]
    fn save_and_load_round_trip() {
        let mut meta = HashMap::new();
        meta.insert("encoder".to_string(), "tiny".to_string());
        let cb = book().with_metadata(meta);
        let dir = std::env::temp_dir().join(format!("cp-codebook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cb.safetensors");
        cb.save(&path).unwrap();
        let back = Codebook::load(&path).unwrap();
        assert_eq!(back, cb);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(Codebook::from_bytes(b"not a codebook").is_err());
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(Codebook::new(10, 2, vec![0.0; 20]).is_err());
        assert!(Codebook::new(16, 2, vec![0.0; 31]).is_err());
    }

    #[test]
    fn perplexity_spans_one_to_k() {
        assert!((perplexity(&[3; 50], 16) - 1.0).abs() < 1e-12);
        let all: Vec<u32> = (0..64).map(|i| i % 16).collect();
        assert!((perplexity(&all, 16) - 16.0).abs() < 1e-9);
    }
}
