//! Developer tasks: `cargo xtask bundle counterpart [--release]`.

fn main() -> nice_plug_xtask::Result<()> {
    nice_plug_xtask::main()
}
