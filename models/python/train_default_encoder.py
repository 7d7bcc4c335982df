#!/usr/bin/env python3
"""Train Counterpart's default perception encoder: a small Wav2Vec 2.0 (conv feature encoder +
Transformer) taught by distillation toward music descriptors of the stems-dev set.

Targets, per 20 ms encoder frame (frame j covers samples [320j, 320j+400) at 16 kHz):
  * the sounding MIDI pitch from <stem>.notes.json (128 pitches + "no note"), and its pitch class
    (12 + "no note"): pitch content first;
  * 13 MFCCs of the frame (z-scored per coefficient over the training set): timbre second;
  * the stem's General MIDI instrument (manifest.json), lower weight.
The heads are thrown away; the encoder's last layer is what Counterpart pools and quantises.

Inputs are 2 s crops (the runtime's default context of 1.5 s plus a 0.5 s segment), z-scored per
crop exactly as at run time. Every fifth piece (sorted by id, index % 5 == 4) is held out for
`counterpart eval-perception`; the held-out ids go into the training record next to the model.

Reproducible: fixed seed, fixed number of steps, single-threaded data order.

Usage:
  python3 train_default_encoder.py /work/shared/data/stems-dev --out ../encoders/counterpart-default
  # the same architecture with its initial (random) weights, the baseline of eval-perception:
  python3 train_default_encoder.py /work/shared/data/stems-dev --out ../encoders/counterpart-random-init \
      --steps 0 --name counterpart-random-init
Needs: pip install torch transformers onnx onnxruntime soundfile numpy
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

RATE = 16000
CROP = 32000
HOP = 320
FIELD = 400
SEED = 1234


def resample_fft(x, rate_in, rate_out):
    """Band-limited resampling of a whole clip in the frequency domain."""
    if rate_in == rate_out:
        return x.astype(np.float32)
    n_out = int(round(len(x) * rate_out / rate_in))
    spec = np.fft.rfft(x.astype(np.float64))
    keep = n_out // 2 + 1
    out = np.zeros(keep, dtype=np.complex128)
    m = min(keep, len(spec))
    out[:m] = spec[:m]
    y = np.fft.irfft(out, n_out) * (n_out / len(x))
    return y.astype(np.float32)


def mel_filterbank(n_fft=512, n_mels=40, rate=RATE, fmin=40.0, fmax=7600.0):
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    mels = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    hz = mel_to_hz(mels)
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    fb = np.zeros((n_mels, len(bins)))
    for i in range(n_mels):
        lo, c, hi = hz[i], hz[i + 1], hz[i + 2]
        fb[i] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
    return fb


def dct_matrix(n_in=40, n_out=13):
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    return np.cos(np.pi / n_in * (n + 0.5) * k)


FB = mel_filterbank()
DCT = dct_matrix()
WINDOW = np.hanning(FIELD)


def frame_mfcc(x):
    """13 MFCCs of every 400-sample frame at hop 320."""
    n = (len(x) - FIELD) // HOP + 1
    idx = np.arange(FIELD)[None, :] + HOP * np.arange(n)[:, None]
    frames = x[idx] * WINDOW
    spec = np.abs(np.fft.rfft(frames, 512)) ** 2
    return (np.log(spec @ FB.T + 1e-10) @ DCT.T).astype(np.float32)


def frame_pitches(notes, n_frames):
    """MIDI pitch sounding at each frame centre (128 = none); stems are monophonic."""
    out = np.full(n_frames, 128, dtype=np.int64)
    centres = (HOP * np.arange(n_frames) + FIELD // 2) / RATE
    for note in notes:
        sel = (centres >= note["onset_s"]) & (centres < note["offset_s"])
        out[sel] = note["midi_pitch"]
    return out


def load_set(root, pieces):
    items = []
    for piece in pieces:
        for stem in piece["stems"]:
            audio, rate = sf.read(os.path.join(root, piece["id"], stem["file"]), dtype="float32")
            if audio.ndim > 1:
                audio = audio.mean(axis=1)
            x = resample_fft(audio, rate, RATE)
            with open(os.path.join(root, piece["id"], stem["notes_file"])) as f:
                notes = json.load(f)
            n_frames = (len(x) - FIELD) // HOP + 1
            items.append(
                {
                    "audio": x,
                    "pitch": frame_pitches(notes, n_frames),
                    "mfcc": frame_mfcc(x),
                    "program": stem["gm_program"],
                }
            )
    return items


def build_model(args):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    config = Wav2Vec2Config(
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=4,
        intermediate_size=2 * args.hidden,
        conv_dim=(32, 64, 64, 64, 64, 64, 64),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        num_conv_pos_embeddings=32,
        num_conv_pos_embedding_groups=8,
        feat_extract_norm="group",
        do_stable_layer_norm=False,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        layerdrop=0.0,
        mask_time_prob=0.0,
        apply_spec_augment=False,
    )
    return Wav2Vec2Model(config)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stems", help="stems-dev directory (manifest.json + pieces)")
    ap.add_argument("--out", required=True, help="output path without extension")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="counterpart-default", help="name recorded in the description")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(SEED)

    with open(os.path.join(args.stems, "manifest.json")) as f:
        manifest = json.load(f)
    pieces = sorted(manifest["pieces"], key=lambda p: p["id"])
    held_out = [p["id"] for i, p in enumerate(pieces) if i % 5 == 4]
    train_pieces = [p for p in pieces if p["id"] not in held_out]
    t0 = time.time()
    items = load_set(args.stems, train_pieces)
    programs = sorted({it["program"] for it in items})
    mfcc_all = np.concatenate([it["mfcc"] for it in items])
    mfcc_mean, mfcc_std = mfcc_all.mean(0), mfcc_all.std(0) + 1e-6
    lengths = np.array([len(it["audio"]) for it in items], dtype=np.float64)
    print(f"{len(items)} training stems, {lengths.sum() / RATE / 60:.1f} min, loaded in {time.time() - t0:.0f} s", flush=True)

    model = build_model(args)
    hidden = args.hidden
    heads = torch.nn.ModuleDict(
        {
            "pitch": torch.nn.Linear(hidden, 129),
            "pc": torch.nn.Linear(hidden, 13),
            "mfcc": torch.nn.Linear(hidden, 13),
            "instrument": torch.nn.Linear(hidden, len(programs)),
        }
    )
    params = list(model.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-2)
    warm = max(1, min(200, args.steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, args.steps))))
    )
    n_frames = (CROP - FIELD) // HOP + 1
    weights = lengths / lengths.sum()
    log = []
    t0 = time.time()
    model.train()
    for step in range(args.steps):
        xs, pitch, mfcc, prog = [], [], [], []
        for _ in range(args.batch):
            it = items[rng.choice(len(items), p=weights)]
            start_frame = int(rng.integers(0, len(it["pitch"]) - n_frames))
            s = start_frame * HOP
            x = it["audio"][s : s + CROP].astype(np.float64)
            x = (x - x.mean()) / math.sqrt(x.var() + 1e-7)
            xs.append(x.astype(np.float32))
            pitch.append(it["pitch"][start_frame : start_frame + n_frames])
            mfcc.append((it["mfcc"][start_frame : start_frame + n_frames] - mfcc_mean) / mfcc_std)
            prog.append(programs.index(it["program"]))
        x = torch.from_numpy(np.stack(xs))
        pitch = torch.from_numpy(np.stack(pitch))
        pc = torch.where(pitch == 128, torch.full_like(pitch, 12), pitch % 12)
        mfcc = torch.from_numpy(np.stack(mfcc))
        prog = torch.tensor(prog)
        h = model(x).last_hidden_state
        loss_pitch = F.cross_entropy(heads["pitch"](h).reshape(-1, 129), pitch.reshape(-1))
        loss_pc = F.cross_entropy(heads["pc"](h).reshape(-1, 13), pc.reshape(-1))
        loss_mfcc = F.mse_loss(heads["mfcc"](h), mfcc)
        loss_inst = F.cross_entropy(heads["instrument"](h.mean(1)), prog)
        loss = loss_pitch + loss_pc + 0.5 * loss_mfcc + 0.3 * loss_inst
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == args.steps - 1:
            rec = {
                "step": step,
                "loss": float(loss),
                "pitch": float(loss_pitch),
                "pc": float(loss_pc),
                "mfcc": float(loss_mfcc),
                "instrument": float(loss_inst),
                "elapsed_s": round(time.time() - t0, 1),
            }
            log.append(rec)
            print(json.dumps(rec), flush=True)

    model.eval()
    ckpt = args.out + ".checkpoint"
    model.save_pretrained(ckpt)
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(
        [
            sys.executable,
            os.path.join(here, "export_wav2vec2.py"),
            ckpt,
            "--out",
            args.out + ".onnx",
            "--layers",
            str(args.layers),
            "--name",
            args.name,
            "--check",
        ],
        check=True,
    )
    record = {
        "script": "models/python/train_default_encoder.py",
        "args": vars(args),
        "seed": SEED,
        "objective": "distillation: CE on MIDI pitch (129) + CE on pitch class (13) + 0.5 MSE on 13 MFCCs + 0.3 CE on GM instrument",
        "data": "stems-dev, pieces with sorted index % 5 != 4",
        "training_pieces": [p["id"] for p in train_pieces],
        "held_out_pieces": held_out,
        "parameters": sum(p.numel() for p in model.parameters()),
        "log": log,
    }
    with open(args.out + ".training.json", "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}.onnx and {args.out}.training.json")


if __name__ == "__main__":
    main()
