//! Counterpart's offline side: datasets of paired stems, codebook fitting, training, evaluation.
