#!/usr/bin/env python3
"""Export a Hugging Face Wav2Vec 2.0 checkpoint to Counterpart's ONNX encoder contract.

The contract (see inference-core/src/perception/encoder.rs):
  input  `audio`      float32 [1, n], mono 16 kHz, already z-scored by the runtime, n >= 400
  output `layer_<i>`  float32 [1, frames, hidden], hidden states after transformer layer i
                      (layer_0 = input of the first transformer layer), frames = (n - 400) // 320 + 1
  description         <out>.json next to the model, also stored in the model metadata under
                      `counterpart.encoder`

Usage:
  python3 export_wav2vec2.py path/to/wav2vec2-base --out wav2vec2-base.onnx
  python3 export_wav2vec2.py path/to/MERT-v0-public --trust-remote-code --out mert-v0.onnx
  python3 export_wav2vec2.py --tiny-random --out tiny.onnx --reference tiny.reference.json

Needs: pip install torch transformers onnx (and onnxruntime for --check / --reference).
Runs offline: the checkpoint must be a local directory (config.json + weights).
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch

FORMAT = "counterpart-encoder/1"
METADATA_KEY = "counterpart.encoder"
KERNELS = (10, 3, 3, 3, 3, 2, 2)
STRIDES = (5, 2, 2, 2, 2, 2, 2)


class LayerOutputs(torch.nn.Module):
    """Returns the chosen hidden states of a Wav2Vec2-style model as separate outputs."""

    def __init__(self, model, layers):
        super().__init__()
        self.model = model
        self.layers = layers

    def forward(self, audio):
        out = self.model(audio, output_hidden_states=True)
        return tuple(out.hidden_states[i] for i in self.layers)


def tiny_config(seed):
    """A tiny random-initialised Wav2Vec2 (same framing as base): for tests only."""
    from transformers import Wav2Vec2Config

    torch.manual_seed(seed)
    return Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        conv_kernel=KERNELS,
        conv_stride=STRIDES,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        feat_extract_norm="group",
        do_stable_layer_norm=False,
    )


def load_model(args):
    from transformers import AutoConfig, AutoModel, Wav2Vec2Model

    if args.tiny_random:
        return Wav2Vec2Model(tiny_config(args.seed)), "tiny-random-wav2vec2"
    path = args.checkpoint
    if not os.path.isdir(path):
        sys.exit(f"error: {path} is not a checkpoint directory (config.json + weights)")
    fe = os.path.join(path, "preprocessor_config.json")
    if os.path.exists(fe):
        with open(fe) as f:
            rate = json.load(f).get("sampling_rate", 16000)
        if rate != 16000:
            sys.exit(
                f"error: {path} expects {rate} Hz audio; the encoder contract is 16 kHz "
                "(MERT-v1 models use 24 kHz: use MERT-v0 or a 16 kHz checkpoint)"
            )
    config = AutoConfig.from_pretrained(path, trust_remote_code=args.trust_remote_code)
    kernels = tuple(getattr(config, "conv_kernel", KERNELS))
    strides = tuple(getattr(config, "conv_stride", STRIDES))
    if kernels != KERNELS or strides != STRIDES:
        sys.exit(
            f"error: feature encoder kernels {kernels} / strides {strides} differ from wav2vec 2.0's "
            f"{KERNELS} / {STRIDES}: the frames would not follow the contract's framing"
        )
    if args.trust_remote_code:
        model = AutoModel.from_pretrained(path, trust_remote_code=True)
    else:
        model = Wav2Vec2Model.from_pretrained(path)
    return model, args.name or os.path.basename(os.path.normpath(path))


def zscore(x):
    return (x - x.mean()) / math.sqrt(x.var() + 1e-7)


def reference_input(n=8000):
    """Deterministic test signal: two partials, a click and a decaying noise burst."""
    t = np.arange(n, dtype=np.float64) / 16000.0
    x = 0.5 * np.sin(2 * np.pi * 220.0 * t) + 0.25 * np.sin(2 * np.pi * 660.0 * t + 0.3)
    x[n // 3] += 1.0
    k = np.arange(n)
    x += 0.1 * np.sin(k * 12.9898) * np.exp(-k / 2000.0)
    return zscore(x).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", help="local Hugging Face checkpoint directory")
    ap.add_argument("--out", required=True, help="output .onnx file (the .json sidecar goes next to it)")
    ap.add_argument("--layers", default="all", help="layers to export: 'all' or e.g. '6,12' (default all)")
    ap.add_argument("--default-layer", type=int, help="layer used by default (default: the last)")
    ap.add_argument("--name", help="name recorded in the description")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--trust-remote-code", action="store_true", help="for checkpoints with their own model code (MERT)")
    ap.add_argument("--tiny-random", action="store_true", help="export a tiny random-initialised model (tests)")
    ap.add_argument("--seed", type=int, default=0, help="seed of --tiny-random")
    ap.add_argument("--reference", help="write a test input and the expected outputs to this JSON file")
    ap.add_argument("--check", action="store_true", help="compare ONNX Runtime with PyTorch after export")
    args = ap.parse_args()
    if not args.tiny_random and not args.checkpoint:
        ap.error("give a checkpoint directory or --tiny-random")

    model, name = load_model(args)
    model.eval()
    config = model.config
    n_layers = config.num_hidden_layers
    layers = list(range(n_layers + 1)) if args.layers == "all" else sorted({int(v) for v in args.layers.split(",")})
    if any(not 0 <= i <= n_layers for i in layers):
        sys.exit(f"error: layers must lie in 0..={n_layers}")
    default_layer = n_layers if args.default_layer is None else args.default_layer
    if default_layer not in layers:
        sys.exit(f"error: default layer {default_layer} is not exported ({layers})")
    wrapper = LayerOutputs(model, layers).eval()
    outputs = [f"layer_{i}" for i in layers]

    dummy = torch.from_numpy(reference_input(16000)).unsqueeze(0)
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (dummy,),
            args.out,
            input_names=["audio"],
            output_names=outputs,
            dynamic_axes={"audio": {1: "samples"}, **{o: {1: "frames"} for o in outputs}},
            opset_version=args.opset,
            dynamo=False,
        )

    spec = {
        "format": FORMAT,
        "name": name,
        "sample_rate": 16000,
        "input": "audio",
        "layers": layers,
        "default_layer": default_layer,
        "hidden_size": int(config.hidden_size),
        "num_transformer_layers": int(n_layers),
    }
    import onnx

    proto = onnx.load(args.out)
    entry = proto.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(spec)
    onnx.save(proto, args.out)
    sidecar = os.path.splitext(args.out)[0] + ".json"
    with open(sidecar, "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB) and {sidecar}")

    if args.check or args.reference:
        import onnxruntime as ort

        sess = ort.InferenceSession(args.out, providers=["CPUExecutionProvider"])
        worst = 0.0
        for n in (400, 719, 720, 5000, 8000):
            x = reference_input(n)
            got = sess.run(outputs, {"audio": x[None, :]})
            with torch.no_grad():
                want = wrapper(torch.from_numpy(x)[None, :])
            for g, w in zip(got, want):
                assert g.shape == (1, (n - 400) // 320 + 1, config.hidden_size), g.shape
                worst = max(worst, float(np.abs(g - w.numpy()).max()))
        print(f"ONNX Runtime vs PyTorch: max abs difference {worst:.2e}")
        if worst > 1e-3:
            sys.exit("error: the export does not match PyTorch")
        if args.reference:
            x = reference_input(8000)
            got = sess.run(outputs, {"audio": x[None, :]})
            ref = {
                "input_samples": int(x.shape[0]),
                "input": [float(v) for v in x],
                "outputs": {o: [float(v) for v in g.reshape(-1)] for o, g in zip(outputs, got)},
                "frames": int(got[0].shape[1]),
            }
            with open(args.reference, "w") as f:
                json.dump(ref, f)
            print(f"wrote {args.reference}")


if __name__ == "__main__":
    main()
