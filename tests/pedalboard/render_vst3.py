#!/usr/bin/env python3
"""Renders a guide through a VST3 plugin hosted by pedalboard, saves the plugin's state, reloads
it into a new instance and renders again. Driven by tests/tests/pedalboard_vst3.rs, which reads
the "CP <key> <value>" lines this prints on stdout (anything else goes to stderr).

Usage:
    render_vst3.py BUNDLE GUIDE_WAV OUT_DIR [--params JSON] [--buffer-size N]

BUNDLE      the .vst3 bundle
GUIDE_WAV   the guide: a WAV file, mono (duplicated to two channels) or stereo, rendered at its
            own sample rate
OUT_DIR     gets out.wav (the render), state.bin (the plugin's state after it: pedalboard's
            raw_state) and reloaded.wav (a new instance given that state, rendered the same way);
            32-bit float WAVs of the guide's length
--params    a JSON object from the plugin's parameter display names (as the "CP param" lines
            print them) to values: a string is a value's text as the plugin shows it, or the
            start of one of a stepped parameter's texts ("Aligned" for "Aligned (L=1)"); a number
            is written as text ("Seed": 7, "Dry/Wet": 100 or "100 %"), a boolean as On/Off. The
            plugin parses the text (pedalboard's get_raw_value_for_text); each value is read back
            and printed as "CP set <name> <text>". They are set with the plugin inactive
            (plugin.reset() first), so that the render's activation has them (see "Parameters",
            below).
--buffer-size  the largest block pedalboard sends (process's buffer_size; default 512)

Stdout: "CP pedalboard_version", "CP plugin_name", "CP reload_type", one "CP param <name>" per
parameter, "CP param_count", "CP set <name> <text>", "CP latency_before" and "CP latency" (the
latency pedalboard reads from the plugin before and after the render), "CP out <path>",
"CP state <path> <bytes>", "CP reloaded <name> <text>" (the reloaded instance's values),
"CP latency_reloaded", "CP out_reloaded <path>", and "CP done ok" last.

What pedalboard 0.9.21 does (read in its source: pedalboard/ExternalPlugin.h, process.h and
juce_overrides/juce_PatchedVST3PluginFormat.cpp; checked with Counterpart's debug bundle under
gdb, and with the demo guide at 48 kHz in 512-frame blocks):

* Process mode: offline, announced both ways. ExternalPlugin calls setNonRealtime(true) before
  every prepareToPlay, which calls IAudioProcessor::setupProcessing with processMode = kOffline,
  and each process call's ProcessData::processMode is kOffline. Only once, at instantiation
  (JUCE's setupIO, before any activation), does setupProcessing say kRealtime. (nice-plug 0.4.2
  stored the BufferConfig it activates with before the mode setupProcessing brings; the patch in
  patches/ stores the mode first.)
* Transport: none. pedalboard sets no AudioPlayHead, so every ProcessContext has
  projectTimeSamples = 0 and kPlaying clear (tempo 120 and 4/4, flagged valid): to the plugin,
  a transport stopped at the session's start, for the whole render. An offline render waits
  for the transport to play unless Play When Stopped is on, which the test sets.
* Loading. load_plugin instantiates the plugin and, once, checks whether a reset clears its
  audio: it activates it at 44.1 kHz with 512-frame blocks, processes noise and silence, and
  leaves it active and processing. A plugin whose output still holds audio after a reset is
  loaded again from its saved state on every later reset ("CP reload_type"; Counterpart clears).
* Parameters. Setting one (raw_value, or pedalboard's attribute interface) calls JUCE's
  setValue, which calls IEditController::setParamNormalized at once (on JUCE's message thread,
  the thread that loaded the plugin) and queues the value for the next process call's
  inputParameterChanges. nice-plug ignores setParamNormalized while the plugin is processing,
  so a value set after load_plugin reaches the plugin in the first block of the next render,
  after the activation that starts the render (read back, string_value shows JUCE's cached
  copy, the new value, at once). A value set while the plugin is inactive (after
  plugin.reset(): setProcessing(false), setActive(false)) is in place before that activation.
  Counterpart fixes its latency at activation and keeps it while active, so a Look-ahead set
  right after load_plugin, as pedalboard's examples set parameters, is not what the first
  render plays (with the demo guide: Live set, an Aligned render with latency 38668; the next
  render is Live). This script therefore calls plugin.reset() before it sets them.
* Rendering. process(audio, sample_rate, buffer_size=N, reset=True) resets the plugin (JUCE's
  reset: setProcessing(false), setActive(false), setActive(true), setProcessing(true); then
  releaseResources: setProcessing(false), setActive(false)) and prepares it again
  (setupProcessing with the render's rate, N and kOffline; setActive(true);
  setProcessing(true)), so every render starts from a fresh activation, then feeds the audio in
  blocks of N frames (the last one shorter) on the calling thread.
* Latency: compensated. Before the first block pedalboard reads the plugin's latency (JUCE's
  cached copy, reported_latency_samples) and appends that many frames of silence to the input;
  after each block it counts as usable only the frames past the latency it reads then, appending
  silence for those held back. It drops the first `latency` frames of the plugin's output and
  returns the input's length, lined up with the input as a DAW plays a latency-compensated
  track. JUCE refreshes its copy in prepareToPlay (read before setActive(true)) and when the
  plugin calls IComponentHandler::restartComponent(kLatencyChanged) on JUCE's message thread;
  nobody pumps that thread's message loop, but pedalboard renders on it (the thread that loaded
  the plugin) and nice-plug calls restartComponent at once when asked on it, so a latency the
  plugin reports while it is being activated, or in a process call, counts from then on.
  Seen with Counterpart, which reports its latency in activate (Aligned, 48 kHz, 512-frame
  blocks): reported_latency_samples is 35616 after loading (the load-time checks ran at
  44.1 kHz) and 38668 after the render; at Dry/Wet 50 % the dry guide is in the output at lag 0
  with gain 0.5, to the last bit: pedalboard compensated the 38668 frames the plugin reported
  when the render activated it, not the 35616 JUCE had read just before, in prepareToPlay.
  (Live: 35616 after loading, 0 after the render.)
* State. raw_state (bytes) is JUCE's VST3PluginState XML: the IComponent's and the
  IEditController's getState streams (setting it calls setState on both); preset_data is the
  same as a .vstpreset file. The script saves raw_state and gives it to a new instance right
  after loading it (nice-plug's setState applies at once), so that instance's parameters come
  from the state, not from --params.
"""

import argparse
import json
import os
import sys

import numpy as np
import pedalboard
from pedalboard.io import AudioFile


def report(key, value):
    print(f"CP {key} {value}", flush=True)


def read_guide(path):
    with AudioFile(path) as f:
        audio = f.read(f.frames)
        rate = f.samplerate
    if audio.shape[0] == 1:
        audio = np.vstack([audio, audio])
    if audio.shape[0] != 2:
        sys.exit(f"render_vst3.py: {path} has {audio.shape[0]} channels; one or two expected")
    return np.ascontiguousarray(audio, dtype=np.float32), rate


def write_wav(path, audio, rate):
    with AudioFile(path, "w", rate, audio.shape[0], bit_depth=32) as f:
        f.write(audio)


def parameters_by_name(plugin):
    """The plugin's parameters (pedalboard's C++ objects) by display name."""
    return {p.name: p for p in plugin._parameters}


def raw_value_for(param, value):
    """The normalised value that makes `param` show `value` (see --params)."""
    if isinstance(value, bool):
        text = "On" if value else "Off"
    else:
        text = str(value)
    steps = param.num_steps
    if 1 < steps <= 64:
        # A stepped parameter: match the text of one of its steps, exactly or by its start.
        raws = [i / (steps - 1) for i in range(steps)]
        texts = [param.get_text_for_raw_value(r) for r in raws]
        for matches in (
            lambda t: t == text,
            lambda t: t.lower() == text.lower(),
            lambda t: t.lower().startswith(text.lower()),
        ):
            found = [r for r, t in zip(raws, texts) if matches(t)]
            if len(found) == 1:
                return found[0]
        if isinstance(value, bool) and steps == 2:
            return 1.0 if value else 0.0
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            sys.exit(f"render_vst3.py: {param.name}: {value!r} is none of {texts}")
    return param.get_raw_value_for_text(text)


def set_parameters(plugin, params):
    by_name = parameters_by_name(plugin)
    for name, value in params.items():
        param = by_name.get(name)
        if param is None:
            sys.exit(f"render_vst3.py: no parameter {name!r}; the plugin has {sorted(by_name)}")
        param.raw_value = raw_value_for(param, value)
        report("set", f"{name} {param.string_value}")


def render(plugin, audio, rate, buffer_size):
    return plugin.process(audio, rate, buffer_size=buffer_size, reset=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("guide")
    parser.add_argument("out_dir")
    parser.add_argument("--params", default="{}")
    parser.add_argument("--buffer-size", type=int, default=512)
    args = parser.parse_args()
    params = json.loads(args.params)
    os.makedirs(args.out_dir, exist_ok=True)

    report("pedalboard_version", pedalboard.__version__)
    audio, rate = read_guide(args.guide)
    report("guide", f"{audio.shape[1]} {rate}")

    plugin = pedalboard.load_plugin(args.bundle)
    report("plugin_name", plugin.name)
    report("reload_type", str(plugin._reload_type).split(".")[-1])
    names = [p.name for p in plugin._parameters]
    for name in names:
        report("param", name)
    report("param_count", len(names))
    # Inactive, the plugin takes the values at once (see "Parameters" above).
    plugin.reset()
    set_parameters(plugin, params)

    report("latency_before", plugin.reported_latency_samples)
    out = render(plugin, audio, rate, args.buffer_size)
    report("latency", plugin.reported_latency_samples)
    out_path = os.path.join(args.out_dir, "out.wav")
    write_wav(out_path, out, rate)
    report("out", out_path)

    state = plugin.raw_state
    state_path = os.path.join(args.out_dir, "state.bin")
    with open(state_path, "wb") as f:
        f.write(state)
    report("state", f"{state_path} {len(state)}")
    del plugin

    reloaded = pedalboard.load_plugin(args.bundle)
    with open(state_path, "rb") as f:
        reloaded.raw_state = f.read()
    by_name = parameters_by_name(reloaded)
    for name in params:
        report("reloaded", f"{name} {by_name[name].string_value}")
    again = render(reloaded, audio, rate, args.buffer_size)
    report("latency_reloaded", reloaded.reported_latency_samples)
    again_path = os.path.join(args.out_dir, "reloaded.wav")
    write_wav(again_path, again, rate)
    report("out_reloaded", again_path)
    del reloaded
    report("done", "ok")


if __name__ == "__main__":
    main()
