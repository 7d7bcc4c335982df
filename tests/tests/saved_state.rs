//! Plugin states across versions, through the CLAP host.
//!
//! `tests/fixtures/state-0.1.0.json` is a state saved by Counterpart 0.1.0 (this test wrote it,
//! with `COUNTERPART_WRITE_STATE_FIXTURE=1`, on 2026-12-08), with every parameter away from its
//! default, a preset path and two recordings. Every later build must load it with the same
//! parameters and the same recordings list. A state from a newer version that holds parameters
//! and settings this one does not know loads the rest and says what it left out.

use std::path::PathBuf;

use clack_host::prelude::ClapId;
use counterpart_tests::{bundled_clap, HostedPlugin};
use serde_json::Value;

const CLAP_ID: &str = "org.counterpart.counterpart";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/state-0.1.0.json")
}

/// The fixture's parameters, by name: 37 % into each range, whole for stepped ones and never
/// the minimum (none of them a default), as `plugin` takes them (it snaps values to its steps).
fn fixture_values(plugin: &mut HostedPlugin) -> Vec<(String, ClapId, f64)> {
    let asked: Vec<(String, ClapId, f64)> = plugin
        .params()
        .into_iter()
        .map(|p| {
            let mut value = p.min + (p.max - p.min) * 0.37;
            if p.stepped {
                value = value.round().max(p.min + 1.0).min(p.max);
            }
            (p.name, p.id, value)
        })
        .collect();
    let flush: Vec<(ClapId, f64)> = asked.iter().map(|(_, id, v)| (*id, *v)).collect();
    plugin.flush_params(&flush);
    asked
        .into_iter()
        .map(|(name, id, _)| (name, id, plugin.param_value(id)))
        .collect()
}

/// The state's JSON (nice-plug's CLAP state: a little-endian u64 length, then the JSON).
fn json(state: &[u8]) -> Value {
    serde_json::from_slice(&state[8..]).expect("the plugin state is JSON")
}

/// The CLAP state bytes for `state`.
fn state_bytes(state: &Value) -> Vec<u8> {
    let text = serde_json::to_vec(state).unwrap();
    let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
    bytes.extend(text);
    bytes
}

/// A persisted field of the state, parsed (fields are stored as JSON strings).
fn field(state: &Value, name: &str) -> Value {
    let text = state["fields"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no field {name} in {state}"));
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_state_saved_by_0_1_0_loads_with_its_parameters_and_recordings() {
    let mut plugin = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    let values = fixture_values(&mut plugin);
    if std::env::var_os("COUNTERPART_WRITE_STATE_FIXTURE").is_some() {
        let mut state = json(&plugin.save_state());
        state["fields"]["preset-path"] =
            Value::String(r#""/home/musician/presets/Chorale Bass.cpreset""#.into());
        state["fields"]["recordings"] = Value::String(
            r#"["/home/musician/takes/bass-di.wav","/home/musician/takes/session-2"]"#.into(),
        );
        std::fs::write(fixture(), serde_json::to_string_pretty(&state).unwrap()).unwrap();
    }
    let saved: Value =
        serde_json::from_slice(&std::fs::read(fixture()).expect("tests/fixtures/state-0.1.0.json"))
            .unwrap();
    let mut fresh = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    fresh.load_state(&state_bytes(&saved));
    for (name, id, value) in &values {
        assert!(
            (fresh.param_value(*id) - value).abs() < 1e-6,
            "{name}: {} after loading, {value} saved",
            fresh.param_value(*id)
        );
    }
    let saved = json(&fresh.save_state());
    assert_eq!(
        field(&saved, "recordings"),
        serde_json::json!([
            "/home/musician/takes/bass-di.wav",
            "/home/musician/takes/session-2"
        ])
    );
    assert_eq!(
        field(&saved, "preset-path"),
        Value::String("/home/musician/presets/Chorale Bass.cpreset".into())
    );
    assert_eq!(field(&saved, "ignored-on-load"), serde_json::json!([]));
}

#[test]
fn a_newer_versions_state_loads_what_this_one_knows_and_says_what_it_left_out() {
    let mut plugin = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    let values = fixture_values(&mut plugin);
    let mut state: Value = serde_json::from_slice(&std::fs::read(fixture()).unwrap()).unwrap();
    state["version"] = Value::String("9.0.0".into());
    state["params"]["swing"] = serde_json::json!({ "f32": 0.25 });
    state["fields"]["groove-map"] = Value::String("{}".into());
    plugin.load_state(&state_bytes(&state));
    for (name, id, value) in &values {
        assert!(
            (plugin.param_value(*id) - value).abs() < 1e-6,
            "{name} was not loaded from the newer state"
        );
    }
    let saved = json(&plugin.save_state());
    assert_eq!(
        field(&saved, "ignored-on-load"),
        serde_json::json!(["parameter \"swing\"", "setting \"groove-map\""])
    );
    assert_eq!(
        field(&saved, "recordings").as_array().map(Vec::len),
        Some(2)
    );
}
