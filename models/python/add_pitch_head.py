#!/usr/bin/env python3
"""Adds a pitch-class head to an encoder: a fixed linear map of its last layer, fitted by linear
discriminant analysis (LDA) on the pitch-class annotations of a stems set.

Why: the default encoder's last layer carries the pitch of a segment, but also its timbre
(instrument, register, loudness). Clustering it puts each piece's instrument into the labels, and
then B's labels depend on which instrument plays the companion more than on what the guide plays.
The head keeps every direction of the layer (it is invertible, so nothing is lost) but stretches
the 12 directions that best separate pitch classes (and silence) to unit within-class variance and
shrinks all the others by `--alpha`. k-means on its output then clusters segments by pitch class
first, whatever instrument plays them.

The head is exported as one more output, `layer_<n+1>` for an encoder with n transformer layers
(`layer_5` for the default encoder), of the same width as the hidden states, and becomes the
default layer; `layer_<n>` stays available. Segment vectors are the mean of their frames, and the
head is linear, so pooling then projecting equals projecting then pooling.

Fitting data: every stem with a `*.notes.json` of the given stems sets, 0.5 s segments with 1.5 s of
past context (what the runtime encodes), labelled with the pitch class of the note that sounds
longest in the segment (at least 1/4 of it), else "silence". Pieces named by `--exclude` (the
evaluation's held-out pieces) are never used.

    venv/bin/python add_pitch_head.py /tmp/counterpart-default.onnx \\
        --stems /work/shared/data/stems-dev --stems /work/data/stems-train --max-pieces 60 \\
        --exclude bach-bwv14-5,bach-bwv253,...,palestrina-benedictus-25-b \\
        --out ../encoders/counterpart-default.onnx

The input is an encoder without a head (train_default_encoder.py's output); models/python/README.md
has the full command with the 12 excluded pieces.

Needs: pip install onnx onnxruntime soundfile numpy
"""

import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import soundfile as sf
from onnx import helper, numpy_helper

from train_default_encoder import resample_fft

RATE = 16000
SEGMENT = 8000  # 0.5 s
CONTEXT = 24000  # 1.5 s
HOP = 320
HALF_FIELD = 200
SILENCE = 12
METADATA_KEY = "counterpart.encoder"


def segment_vectors(session, layer, x):
    """Mean frame vector of every whole 0.5 s segment, each encoded with 1.5 s of past context."""
    vectors = []
    for i in range(len(x) // SEGMENT):
        start, end = i * SEGMENT, (i + 1) * SEGMENT
        window_start = max(0, start - CONTEXT)
        w = x[window_start:end]
        w = (w - w.mean()) / (w.std() + 1e-7)
        h = session.run([layer], {"audio": w[None].astype(np.float32)})[0][0]
        centres = window_start + HOP * np.arange(h.shape[0]) + HALF_FIELD
        inside = (centres >= start) & (centres < end)
        vectors.append(h[inside].mean(0))
    return np.array(vectors, dtype=np.float64)


def segment_labels(notes, count):
    """Pitch class of the note sounding longest in each segment, or SILENCE."""
    seg = SEGMENT / RATE
    labels = np.full(count, SILENCE)
    for i in range(count):
        s, e = i * seg, (i + 1) * seg
        best, overlap = SILENCE, seg / 4
        for note in notes:
            o = min(e, note["offset_s"]) - max(s, note["onset_s"])
            if o > overlap:
                best, overlap = note["midi_pitch"] % 12, o
        labels[i] = best
    return labels


def collect(session, layer, roots, exclude, max_pieces):
    xs, ys, used = [], [], []
    for root in roots:
        with open(os.path.join(root, "manifest.json")) as f:
            pieces = sorted(json.load(f)["pieces"], key=lambda p: p["id"])
        pieces = [p for p in pieces if p["id"] not in exclude][:max_pieces]
        for piece in pieces:
            for stem in piece["stems"]:
                if not stem.get("notes_file"):
                    continue
                audio, rate = sf.read(os.path.join(root, piece["id"], stem["file"]), dtype="float32")
                if audio.ndim > 1:
                    audio = audio.mean(axis=1)
                v = segment_vectors(session, layer, resample_fft(audio, rate, RATE))
                with open(os.path.join(root, piece["id"], stem["notes_file"])) as f:
                    notes = json.load(f)
                xs.append(v)
                ys.append(segment_labels(notes, len(v)))
            used.append(piece["id"])
            print(f"  {piece['id']}", flush=True)
    return np.vstack(xs), np.concatenate(ys), used


def pitch_head(x, y, alpha, seed):
    """(mean, T): T's first columns are the LDA directions scaled to unit within-class variance,
    the others an orthonormal completion scaled to `alpha` times their spread."""
    dim = x.shape[1]
    mean = x.mean(0)
    within = np.zeros((dim, dim))
    between = np.zeros((dim, dim))
    classes = np.unique(y)
    for c in classes:
        xc = x[y == c]
        mc = xc.mean(0)
        within += (xc - mc).T @ (xc - mc)
        between += len(xc) * np.outer(mc - mean, mc - mean)
    within /= len(x)
    between /= len(x)
    within += 1e-3 * np.trace(within) / dim * np.eye(dim)
    values, vectors = np.linalg.eig(np.linalg.solve(within, between))
    order = np.argsort(-values.real)
    rank = len(classes) - 1
    lda = vectors.real[:, order[:rank]]
    lda /= np.sqrt(np.einsum("ij,ik,kj->j", lda, within, lda))
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(np.hstack([lda, rng.standard_normal((dim, dim - rank))]))
    rest = q[:, rank:]
    spread = np.sqrt(((x - mean) @ lda).var(0).mean() / ((x - mean) @ rest).var(0).mean())
    head = np.hstack([lda, alpha * spread * rest])
    return mean, head, values.real[order[:rank]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("encoder", help="input .onnx (with its .json sidecar)")
    ap.add_argument("--stems", action="append", required=True, help="stems set with notes (repeatable)")
    ap.add_argument("--exclude", default="", help="comma-separated piece ids never used")
    ap.add_argument("--max-pieces", type=int, default=60, help="most pieces per stems set")
    ap.add_argument("--alpha", type=float, default=0.1, help="scale of the non-pitch directions")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(os.path.splitext(args.encoder)[0] + ".json") as f:
        spec = json.load(f)
    last = spec["num_transformer_layers"]
    if spec["default_layer"] != last or last not in spec["layers"]:
        raise SystemExit(f"the encoder must export its last layer ({last}) as its default layer")
    source = f"layer_{last}"
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(args.encoder, options)
    exclude = set(filter(None, args.exclude.split(",")))
    print(f"encoding {source} of the stems sets")
    x, y, used = collect(session, source, args.stems, exclude, args.max_pieces)
    mean, head, eigen = pitch_head(x, y, args.alpha, args.seed)
    print(f"{len(x)} segments from {len(used)} pieces; discriminant ratios {np.round(eigen, 2).tolist()}")

    model = onnx.load(args.encoder)
    graph = model.graph
    target = f"layer_{last + 1}"
    if any(o.name == target for o in graph.output):
        raise SystemExit(f"{args.encoder} already has an output {target}")
    hidden = spec["hidden_size"]
    graph.initializer.extend(
        [
            numpy_helper.from_array(mean.astype(np.float32), "pitch_head.mean"),
            numpy_helper.from_array(head.astype(np.float32), "pitch_head.weight"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("Sub", [source, "pitch_head.mean"], ["pitch_head.centred"]),
            helper.make_node("MatMul", ["pitch_head.centred", "pitch_head.weight"], [target]),
        ]
    )
    graph.output.append(helper.make_tensor_value_info(target, onnx.TensorProto.FLOAT, [1, "frames", hidden]))
    spec["layers"] = sorted(set(spec["layers"]) | {last + 1})
    spec["default_layer"] = last + 1
    for entry in list(model.metadata_props):
        if entry.key == METADATA_KEY:
            model.metadata_props.remove(entry)
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(spec)
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")

    check = ort.InferenceSession(args.out, options)
    probe = np.random.default_rng(0).standard_normal((1, 24000)).astype(np.float32)
    h, p = check.run([source, target], {"audio": probe})
    err = np.abs((h[0] - mean) @ head - p[0]).max()
    if err > 1e-3:
        raise SystemExit(f"head check failed: max error {err}")
    record = {}
    source_record = os.path.splitext(args.encoder)[0] + ".training.json"
    if os.path.exists(source_record):
        with open(source_record) as f:
            record = json.load(f)
    record["pitch_head"] = {
        "script": "models/python/add_pitch_head.py",
        "args": vars(args),
        "output": target,
        "segments": int(len(x)),
        "pieces": used,
        "class_counts": np.bincount(y, minlength=SILENCE + 1).tolist(),
        "discriminant_ratios": [round(float(v), 4) for v in eigen],
    }
    with open(os.path.splitext(args.out)[0] + ".training.json", "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out} (default layer {target}; check error {err:.2e}) and its .json")


if __name__ == "__main__":
    main()
