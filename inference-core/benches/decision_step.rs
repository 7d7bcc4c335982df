//! Latency of one streaming decision step with the default model: encode A's newest token, run
//! the decoder over the sliding context, sample B's label, commit it.
//!
//! Target: ≤ 2 ms on one core. Run pinned to one core with one candle thread:
//! `RAYON_NUM_THREADS=1 taskset -c 0 cargo bench -p counterpart-core --bench decision_step`.
//! Weights are random: the latency does not depend on their values.

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use counterpart_core::decision::model::save_checkpoint;
use counterpart_core::decision::{
    DecisionConfig, DecisionModel, DecisionStream, Sampler, SamplerSettings,
};
use criterion::{criterion_group, criterion_main, Criterion};

/// Codebook size used for the figure (the largest the paper sweeps is 1024; 64–256 are typical).
const VOCAB: usize = 256;

fn loaded_model(cfg: &DecisionConfig) -> DecisionModel {
    let varmap = VarMap::new();
    DecisionModel::new(
        cfg,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let dir =
        std::env::temp_dir().join(format!("counterpart-bench-decision-{}", std::process::id()));
    save_checkpoint(&dir, cfg, &varmap).unwrap();
    let model = DecisionModel::load(&dir, &Device::Cpu).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    model
}

fn bench_step(c: &mut Criterion) {
    for lookahead in [0usize, 1] {
        let cfg = DecisionConfig::new(VOCAB, lookahead);
        let model = loaded_model(&cfg);
        let mut stream = DecisionStream::new(&model).unwrap();
        let counts: Vec<u32> = (0..VOCAB as u32).map(|i| 1 + i % 5).collect();
        let mut sampler = Sampler::new(&counts, SamplerSettings::default(), 7).unwrap();
        let mut a = 0u32;
        let mut step = |stream: &mut DecisionStream, sampler: &mut Sampler| {
            while stream.guide_len() < stream.response_len() + lookahead {
                a = (a * 31 + 17) % VOCAB as u32;
                stream.push_guide(a).unwrap();
            }
            let b = sampler.sample(stream.next_logits().unwrap()).unwrap();
            stream.push_response(b).unwrap();
        };
        // Fill the sliding context so that every attention spans the full window.
        for _ in 0..cfg.context + 8 {
            step(&mut stream, &mut sampler);
        }
        c.bench_function(
            &format!("decision_step_default_K{VOCAB}_L{lookahead}"),
            |bench| bench.iter(|| step(&mut stream, &mut sampler)),
        );
    }
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
