//! k-means codebook fitting: k-means++ initialisation, Lloyd iterations, several restarts, seeded
//! and deterministic (single-threaded, fixed visiting order, ties to the lower index).
//!
//! Fit it on the vectors that will be quantised at run time: pooled segment vectors made by
//! `counterpart_core::perception::encode_clip` with the run-time settings.

use counterpart_core::perception::{perplexity, Codebook, ALLOWED_K};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::pipeline::PipelineError;

/// k-means settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansConfig {
    /// Number of centres; one of [`ALLOWED_K`].
    pub k: usize,
    /// Independent runs from different k-means++ seeds; the lowest inertia wins.
    pub restarts: usize,
    /// Most Lloyd iterations per run.
    pub max_iter: usize,
    /// A run stops when the inertia improves by less than this fraction.
    pub tol: f64,
    /// Seed of the whole fit.
    pub seed: u64,
}

impl KMeansConfig {
    /// Defaults for `k`: 4 restarts, 100 iterations, tolerance 1e-6, seed 42.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            restarts: 4,
            max_iter: 100,
            tol: 1e-6,
            seed: 42,
        }
    }
}

/// A fitted codebook and how well it fits.
#[derive(Debug, Clone)]
pub struct KMeansFit {
    /// The centres.
    pub codebook: Codebook,
    /// Sum of squared distances of the data to their centres.
    pub inertia: f64,
    /// Nearest centre of every data vector.
    pub assignments: Vec<u32>,
    /// Which restart won.
    pub restart: usize,
    /// Lloyd iterations of the winning run.
    pub iterations: usize,
}

impl KMeansFit {
    /// Codebook usage on the fitted data: perplexity of the assignments divided by K.
    pub fn usage(&self) -> f64 {
        perplexity(&self.assignments, self.codebook.k()) / self.codebook.k() as f64
    }
}

/// Fits `config.k` centres to `data` (`n · dim` values, vector-major).
pub fn fit(data: &[f32], dim: usize, config: &KMeansConfig) -> Result<KMeansFit, PipelineError> {
    let k = config.k;
    if !ALLOWED_K.contains(&k) {
        return Err(PipelineError::KMeans(format!(
            "K = {k} is not one of {ALLOWED_K:?}"
        )));
    }
    if dim == 0 || !data.len().is_multiple_of(dim) {
        return Err(PipelineError::KMeans(format!(
            "{} values are not vectors of size {dim}",
            data.len()
        )));
    }
    let n = data.len() / dim;
    if n < k {
        return Err(PipelineError::KMeans(format!(
            "{n} vectors are too few for {k} centres"
        )));
    }
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(PipelineError::KMeans(format!(
            "vector {} holds a non-finite value",
            i / dim
        )));
    }
    if config.restarts == 0 || config.max_iter == 0 {
        return Err(PipelineError::KMeans(
            "restarts and max_iter must be at least 1".into(),
        ));
    }
    let mut best: Option<RestartOutcome> = None;
    for restart in 0..config.restarts {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(restart as u64));
        let mut centres = init_plus_plus(data, dim, k, &mut rng);
        let mut assign = vec![0u32; n];
        let mut dist = vec![0f32; n];
        let mut inertia = assign_all(data, dim, &centres, &mut assign, &mut dist);
        let mut iterations = 0;
        for _ in 0..config.max_iter {
            iterations += 1;
            update(data, dim, k, &assign, &dist, &mut centres);
            let next = assign_all(data, dim, &centres, &mut assign, &mut dist);
            let done = inertia - next <= config.tol * inertia.max(f64::MIN_POSITIVE);
            inertia = next;
            if done {
                break;
            }
        }
        if best.as_ref().is_none_or(|b| inertia < b.inertia) {
            best = Some(RestartOutcome {
                centres,
                assignments: assign,
                inertia,
                restart,
                iterations,
            });
        }
    }
    let RestartOutcome {
        centres,
        assignments,
        inertia,
        restart,
        iterations,
    } = best.expect("at least one restart ran");
    Ok(KMeansFit {
        codebook: Codebook::new(k, dim, centres)?,
        inertia,
        assignments,
        restart,
        iterations,
    })
}

/// The outcome of one restart.
struct RestartOutcome {
    centres: Vec<f32>,
    assignments: Vec<u32>,
    inertia: f64,
    restart: usize,
    iterations: usize,
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// k-means++: the first centre uniformly, each next one with probability proportional to the
/// squared distance to the nearest centre so far.
fn init_plus_plus(data: &[f32], dim: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n = data.len() / dim;
    let mut centres = Vec::with_capacity(k * dim);
    let first = rng.random_range(0..n);
    centres.extend_from_slice(&data[first * dim..(first + 1) * dim]);
    let mut nearest: Vec<f64> = data
        .chunks_exact(dim)
        .map(|v| sq_dist(v, &centres[..dim]) as f64)
        .collect();
    for _ in 1..k {
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let target = rng.random::<f64>() * total;
            let mut acc = 0.0;
            nearest
                .iter()
                .position(|&d| {
                    acc += d;
                    acc > target
                })
                .unwrap_or(n - 1)
        } else {
            // All points coincide with a centre: any point will do.
            rng.random_range(0..n)
        };
        let c = &data[pick * dim..(pick + 1) * dim];
        centres.extend_from_slice(c);
        for (d, v) in nearest.iter_mut().zip(data.chunks_exact(dim)) {
            *d = d.min(sq_dist(v, c) as f64);
        }
    }
    centres
}

/// Nearest centre of every vector (ties to the lower index); returns the inertia.
fn assign_all(
    data: &[f32],
    dim: usize,
    centres: &[f32],
    assign: &mut [u32],
    dist: &mut [f32],
) -> f64 {
    let mut inertia = 0.0;
    for ((v, a), d) in data
        .chunks_exact(dim)
        .zip(assign.iter_mut())
        .zip(dist.iter_mut())
    {
        let mut best = (0u32, f32::INFINITY);
        for (i, c) in centres.chunks_exact(dim).enumerate() {
            let e = sq_dist(v, c);
            if e < best.1 {
                best = (i as u32, e);
            }
        }
        *a = best.0;
        *d = best.1;
        inertia += best.1 as f64;
    }
    inertia
}

/// Moves each centre to the mean of its vectors. An empty cluster takes the vector farthest from
/// its own centre (the lowest index among equals), which is then no longer counted as far.
fn update(data: &[f32], dim: usize, k: usize, assign: &[u32], dist: &[f32], centres: &mut [f32]) {
    let mut sums = vec![0f64; k * dim];
    let mut counts = vec![0usize; k];
    for (v, &a) in data.chunks_exact(dim).zip(assign) {
        let a = a as usize;
        counts[a] += 1;
        for (s, &x) in sums[a * dim..(a + 1) * dim].iter_mut().zip(v) {
            *s += x as f64;
        }
    }
    let mut taken = vec![false; assign.len()];
    for c in 0..k {
        let centre = &mut centres[c * dim..(c + 1) * dim];
        if counts[c] > 0 {
            let inv = 1.0 / counts[c] as f64;
            for (x, s) in centre.iter_mut().zip(&sums[c * dim..(c + 1) * dim]) {
                *x = (s * inv) as f32;
            }
        } else {
            let far =
                (0..assign.len())
                    .filter(|&i| !taken[i])
                    .fold(None::<usize>, |b, i| match b {
                        Some(j) if dist[j] >= dist[i] => Some(j),
                        _ => Some(i),
                    });
            if let Some(i) = far {
                taken[i] = true;
                centre.copy_from_slice(&data[i * dim..(i + 1) * dim]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 16 well-separated blobs of 40 points in 4-D.
    fn blobs() -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut data = Vec::new();
        for c in 0..16 {
            for _ in 0..40 {
                for d in 0..4 {
                    let centre = if (c >> d) & 1 == 1 { 10.0 } else { -10.0 };
                    data.push(centre + rng.random_range(-1.0f32..1.0));
                }
            }
        }
        data
    }

    #[test]
    fn finds_separated_clusters_and_uses_the_whole_codebook() {
        let data = blobs();
        let fit = fit(&data, 4, &KMeansConfig::new(16)).unwrap();
        // Every blob maps to a single centre, and every centre gets one blob.
        for blob in fit.assignments.chunks(40) {
            assert!(blob.iter().all(|&a| a == blob[0]));
        }
        let mut seen: Vec<u32> = fit.assignments.chunks(40).map(|b| b[0]).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 16);
        assert!((fit.usage() - 1.0).abs() < 1e-9);
        // The codebook quantises like the fit assigned.
        for (v, &a) in data.chunks_exact(4).zip(&fit.assignments) {
            assert_eq!(fit.codebook.quantise(v).unwrap(), a);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_codebook() {
        let data = blobs();
        let mut config = KMeansConfig::new(32);
        let a = fit(&data, 4, &config).unwrap();
        let b = fit(&data, 4, &config).unwrap();
        assert_eq!(a.codebook, b.codebook);
        assert_eq!(a.assignments, b.assignments);
        config.seed = 43;
        let c = fit(&data, 4, &config).unwrap();
        assert_ne!(a.codebook, c.codebook);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(fit(&[0.0; 40], 4, &KMeansConfig::new(16)).is_err());
        assert!(fit(&blobs(), 4, &KMeansConfig::new(10)).is_err());
        let mut data = blobs();
        data[5] = f32::NAN;
        assert!(fit(&data, 4, &KMeansConfig::new(16)).is_err());
        // All-equal points still give a codebook.
        let same = vec![1.0f32; 4 * 64];
        let fit = fit(&same, 4, &KMeansConfig::new(16)).unwrap();
        assert_eq!(fit.inertia, 0.0);
    }
}
