//! Plugin states saved by other versions of Counterpart.
//!
//! A state holds the parameter values by id and the persisted fields by name, with the version
//! that saved it. One from an older version loads whole (tests/fixtures/state-0.1.0.json is kept
//! for this). One from a newer version may hold parameters and fields this version does not know:
//! the rest loads, and what was left out is logged and shown in the editor
//! ([`CounterpartParams::ignored_on_load`]); the state is never reset silently.

use std::collections::BTreeSet;

use nice_plug::prelude::*;

use crate::params::CounterpartParams;
use crate::Counterpart;

/// The persisted field that says what the last state loaded held that this version ignored.
pub const IGNORED_FIELD: &str = "ignored-on-load";

/// What `state` holds that this version does not know, described for the user; empty when
/// nothing.
pub fn unknown_parts(state: &PluginState) -> Vec<String> {
    let params = CounterpartParams::default();
    let known_params: BTreeSet<String> = params
        .param_map()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let known_fields: BTreeSet<String> = params.serialize_fields().into_keys().collect();
    let parameters = state
        .params
        .keys()
        .filter(|id| !known_params.contains(*id))
        .map(|id| format!("parameter \"{id}\""));
    let fields = state
        .fields
        .keys()
        .filter(|name| !known_fields.contains(*name))
        .map(|name| format!("setting \"{name}\""));
    parameters.chain(fields).collect()
}

/// Notes in `state` what it holds that this version ignores (main thread, just before the
/// state is loaded), and logs it.
pub fn note_unknown_parts(state: &mut PluginState) {
    let ignored = unknown_parts(state);
    if !ignored.is_empty() {
        nice_log!(
            "Counterpart: the project's state was saved by Counterpart {} (this is {}); left \
             out what this version does not know: {}",
            display_version(&state.version),
            Counterpart::VERSION,
            ignored.join(", ")
        );
    }
    let value = serde_json::to_string(&ignored).unwrap_or_else(|_| "[]".into());
    state.fields.insert(IGNORED_FIELD.to_owned(), value);
}

/// A state's version for people ("an unknown version" for very old states, which have none).
fn display_version(version: &str) -> &str {
    if version.is_empty() {
        "an unknown version"
    } else {
        version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_states_unknown_parameters_and_fields_are_named() {
        let mut state = PluginState {
            version: "9.0.0".into(),
            params: Default::default(),
            fields: Default::default(),
        };
        state
            .params
            .insert("temp".into(), nice_plug::plugin::ParamValue::F32(0.5));
        state
            .params
            .insert("swing".into(), nice_plug::plugin::ParamValue::F32(0.2));
        state.fields.insert("recordings".into(), "[]".into());
        state.fields.insert("groove-map".into(), "{}".into());
        assert_eq!(
            unknown_parts(&state),
            ["parameter \"swing\"", "setting \"groove-map\""]
        );
        note_unknown_parts(&mut state);
        assert_eq!(
            state.fields[IGNORED_FIELD],
            r#"["parameter \"swing\"","setting \"groove-map\""]"#
        );
    }
}
