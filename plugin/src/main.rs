//! Counterpart as a standalone JACK/ALSA application, for live use without a DAW.

fn main() {
    if !nice_plug::nice_export_standalone::<counterpart::Counterpart>() {
        std::process::exit(1);
    }
}
