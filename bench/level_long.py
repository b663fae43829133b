"""Output level of a long multichannel recording through `tfgridnet enhance`'s streamed path.

A 60-90 s recording at 48 kHz, two channels of one talker: channel 1 in pink noise, channel 2 in
white noise, each at ``--snr`` dB over the whole file, with ``--lead-in`` seconds of noise before
the talker starts (as recordings do) and pauses of 0.2-1 s between sentences. The speech is the
demo corpus's eSpeak NG test voices (``--speech espeak``) or, with ``--speech real``, Debian's
``asterisk-core-sounds-en-wav`` prompts (one real speaker, 8 kHz upsampled: telephone band).

The recording goes through ``Enhancer.enhance_file`` (the path of ``tfgridnet enhance``: streamed
blocks, soxr to the model's rate and back, 4 s chunks, one level gain per channel). Per channel:

* level error = enhanced minus clean RMS over the whole file (the target: within +-1 dB);
* the same speech as ``evaluate`` sees it: each sentence enhanced alone (one utterance, its own
  gain), the outputs put back in place; its level error over the same samples;
* noise suppression (enhanced minus noisy RMS) over the lead-in and over the pauses between
  sentences: equal when every part of the file gets the same gain.

    python bench/level_long.py RUN_OR_EXPORT_DIR [--seconds 90] [--snr 3] [--lead-in 4]
                               [--speech espeak|real] [--label TEXT] [--no-append]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import fmt, markdown_table, publish

from tfgridnet.audio.io import load_audio
from tfgridnet.audio.levels import level_error_db, rms_dbfs
from tfgridnet.audio.resample import resample
from tfgridnet.data.demo import _TEST_VOICES, EspeakSynth, make_noise, make_sentences
from tfgridnet.inference.enhancer import Enhancer

RATE = 48000
NOISES = ("pink", "white")
ASTERISK = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


def sentences(kind: str, seconds: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Speech sentences at :data:`RATE` adding up to about ``seconds`` (with the pauses)."""
    out, total = [], 0.0
    if kind == "real":
        files = sorted(p for p in ASTERISK.rglob("*.wav")
                       if not any(w in str(p) for w in ("silence", "tone", "beep", "monkeys")))
        if not files:
            raise SystemExit(f"{ASTERISK}: no prompts (apt-get install asterisk-core-sounds-en-wav)")
        source = (load_audio(files[i], RATE)[0] for i in rng.permutation(len(files)))
    else:
        synth = EspeakSynth.shared()
        source = (resample(synth.synthesize(text, voice=_TEST_VOICES[k % len(_TEST_VOICES)]),
                           synth.sample_rate, RATE)
                  for k, text in enumerate(make_sentences(400, seed=5)))
    for speech in source:
        if speech.size < 1.5 * RATE:
            continue
        out.append(speech.astype(np.float64))
        total += speech.size / RATE + 0.6
        if total >= seconds:
            return out
    return out


def recording(args, rng: np.random.Generator):
    """(noisy [2, N], clean [2, N], sentence spans [(start, end)], lead-in samples)."""
    lead = int(args.lead_in * RATE)
    parts, spans, at = [np.zeros(lead)], [], lead
    for speech in sentences(args.speech, args.seconds - args.lead_in, rng):
        pause = np.zeros(int(rng.uniform(0.2, 1.0) * RATE))
        parts += [speech, pause]
        spans.append((at, at + speech.size))
        at += speech.size + pause.size
    clean = np.concatenate(parts)[:int(args.seconds * RATE)]
    spans = [(s, min(e, clean.size)) for s, e in spans if s < clean.size]
    clean *= 0.05 / np.sqrt(np.mean(clean ** 2))
    noisy = []
    for kind in NOISES:
        noise = make_noise(kind, clean.size, RATE, rng)
        noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2) / 10 ** (args.snr / 10))
        noisy.append(clean + noise)
    noisy, clean = np.stack(noisy), np.stack([clean, clean])
    scale = 0.9 / np.max(np.abs(noisy))  # one gain for both sides: the pair stays a pair
    return noisy * scale, clean * scale, spans, lead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="run dir, export dir or checkpoint")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--snr", type=float, default=3.0, help="dB, speech vs noise per channel")
    parser.add_argument("--lead-in", type=float, default=4.0, help="seconds of noise first")
    parser.add_argument("--speech", choices=("espeak", "real"), default="espeak")
    parser.add_argument("--label", default="demo model")
    parser.add_argument("--no-append", action="store_true", help="only print, leave RESULTS.md")
    args = parser.parse_args()

    noisy, clean, spans, lead = recording(args, np.random.default_rng(0))
    enhancer = Enhancer.from_pretrained(args.model, device="cpu")
    with tempfile.TemporaryDirectory() as folder:
        sf.write(Path(folder) / "noisy.wav", noisy.T, RATE, subtype="FLOAT")
        out = enhancer.enhance_file(Path(folder) / "noisy.wav", Path(folder) / "enhanced.wav")
        enhanced = sf.read(out, dtype="float64", always_2d=True)[0].T
    per_utterance = np.zeros_like(clean)  # evaluate's view: each sentence alone, its own gain
    for start, end in spans:
        per_utterance[:, start:end] = enhancer.enhance(noisy[:, start:end].astype(np.float32),
                                                       RATE)
    speech = np.zeros(clean.shape[-1], dtype=bool)
    for start, end in spans:
        speech[start:end] = True
    pauses = ~speech
    pauses[:lead] = False
    rows = []
    for c, kind in enumerate(NOISES):
        inside = np.concatenate([np.arange(s, e) for s, e in spans])
        rows.append([
            f"{c + 1} ({kind})", fmt(level_error_db(noisy[c], clean[c]), 2),
            fmt(level_error_db(enhanced[c], clean[c]), 2),
            fmt(level_error_db(enhanced[c, inside], clean[c, inside]), 2),
            fmt(level_error_db(per_utterance[c, inside], clean[c, inside]), 2),
            fmt(rms_dbfs(enhanced[c, :lead]) - rms_dbfs(noisy[c, :lead]), 1),
            fmt(rms_dbfs(enhanced[c, pauses]) - rms_dbfs(noisy[c, pauses]), 1)])
    table = markdown_table(
        ["channel (noise)", "noisy level error dB", "enhanced level error dB (whole file)",
         "enhanced, sentences only", "each sentence alone (evaluate's view)",
         "lead-in suppression dB", "pause suppression dB"], rows)
    notes = [f"{args.label}: model {args.model}; {args.seconds:g} s at {RATE} Hz, 2 channels, "
             f"{args.speech} speech ({len(spans)} sentences), {args.snr:g} dB SNR per channel, "
             f"{args.lead_in:g} s of noise first; Enhancer.enhance_file (tfgridnet enhance's "
             f"path), precision {enhancer.precision}, chunks {enhancer.chunk / enhancer.sample_rate:g} s",
             f"{enhancer.level.limited_samples} samples peak-limited"]
    publish("long multichannel file: output level", table, notes, append=not args.no_append)


if __name__ == "__main__":
    main()
