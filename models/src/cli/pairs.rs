//! The pairs of stems a subcommand works on: the manifest's primary pairs, all of them, or one
//! pair named by its guide and target stems.

use counterpart_models::data::layout::PairSelection;

/// Which pairs to use.
#[derive(clap::Args, Debug, Clone)]
pub struct PairArgs {
    /// `primary`: the manifest's primary pair per piece; `all`: every pair it names (every
    /// ordered pair of stems without a manifest).
    #[arg(long, default_value = "primary", value_parser = ["primary", "all"])]
    pairs: String,
    /// Guide stem name (with --target).
    #[arg(long, requires = "target")]
    guide: Option<String>,
    /// Target stem name (with --guide).
    #[arg(long, requires = "guide")]
    target: Option<String>,
}

impl PairArgs {
    /// The pairs asked for: the named pair when `--guide` and `--target` are given, else those
    /// of `--pairs`.
    pub fn selection(&self) -> PairSelection {
        match (&self.guide, &self.target) {
            (Some(guide), Some(target)) => PairSelection::Named {
                guide: guide.clone(),
                target: target.clone(),
            },
            _ if self.pairs == "all" => PairSelection::All,
            _ => PairSelection::Primary,
        }
    }
}
