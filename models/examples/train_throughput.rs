//! Training speed of the default decision model on a dev-stems-sized synthetic dataset
//! (≈ 420 ordered pairs × 107 segments ≈ 45k target tokens, like stems-dev at 0.5 s segments).
//!
//! `RAYON_NUM_THREADS=2 cargo run -p counterpart-models --example train_throughput -- [epochs] [K]`

use std::time::Duration;

use candle_core::Device;
use counterpart_core::decision::DecisionConfig;
use counterpart_models::data::dataset::PairedTokenDataset;
use counterpart_models::pipeline::train::{train, TrainConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let epochs: usize = args.next().map_or(2, |a| a.parse().expect("epochs"));
    let vocab: usize = args.next().map_or(64, |a| a.parse().expect("K"));
    let data = PairedTokenDataset::synthetic(vocab, 210, 107, 0);
    let (tr, va) = data.split_by_piece(0.1, 0);
    let cfg = DecisionConfig::new(vocab, 0);
    let opts = TrainConfig {
        max_epochs: epochs,
        time_budget: Some(Duration::from_secs(30 * 60)),
        ..TrainConfig::default()
    };
    let dir = std::env::temp_dir().join("counterpart-train-throughput");
    let report = train(&cfg, &tr, &va, &opts, &dir, &Device::Cpu).expect("training");
    for e in &report.epochs {
        println!(
            "epoch {} step {} train {:.3} val {:.3} acc {:.3} at {:.0} s",
            e.epoch, e.step, e.train_loss, e.val_loss, e.val_accuracy, e.elapsed_s
        );
    }
    println!(
        "{} training tokens/epoch, {:.0} tokens/s, {:.1} s/epoch",
        tr.num_tokens(),
        report.tokens_per_second,
        report
            .epochs
            .last()
            .map_or(0.0, |e| e.elapsed_s / e.epoch as f64)
    );
}
