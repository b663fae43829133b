"""The embedded demo corpus: eSpeak NG speech + synthetic noise, built offline and deterministically.

Clean speech comes from the eSpeak NG library shipped in the ``espeakng-loader`` wheel, driven
through its C API with ctypes (no subprocess, no network). Sentences are composed from small word
lists; voices, rates and pitches vary. Noise kinds: white, pink, brown, mains hum, babble (other
utterances of the same split) and bursts. Test sentences and voices are disjoint from training.

Determinism: every random choice (text, voice, rate, pitch, level, noise kind, SNR, noise
signal) comes from its own generator keyed by (seed, purpose, split, index), so no draw depends on
another's outcome. eSpeak NG's waveform itself is not bit-exact: the engine varies its output from
call to call (the same text twice in one process differs by a few ms of timing), and neither
re-initialising, ``espeak_ng_SetRandSeed`` nor ``srand`` removes that. The corpus is reproducible
in content and statistics, not byte for byte; the stamp makes reuse, not regeneration, the norm.
"""

from __future__ import annotations

import ctypes
import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tfgridnet.audio.filters import bandpass
from tfgridnet.audio.io import save_audio
from tfgridnet.audio.resample import resample
from tfgridnet.data.manifest import (
    NOISE_KIND_COLUMN,
    SNR_COLUMN,
    Entry,
    Pair,
    write_manifest,
    write_single_manifest,
)
from tfgridnet.errors import UserInputError
from tfgridnet.fileio import write_json_atomic

__all__ = ["make_demo_data", "EspeakSynth", "make_sentences", "NOISE_KINDS", "make_noise"]

DEMO_VERSION = 4  # 3: manifests carry the noise_kind / snr_db condition columns; 4: wider train speech
STAMP_NAME = "demo_stamp.json"
NOISE_KINDS = ("white", "pink", "brown", "hum", "babble", "bursts")
# Training noise files, the kinds in turn (36 per kind). Each file draws one noise realisation
# (one mains frequency and harmonic mix for hum, one set of babble talkers): 36 files in all left
# the demo model 0.9 dB worse on the valid set's hum, 0.27 dB overall (bench/RESULTS.md §14-15).
DEMO_NOISE_FILES = 216

# eSpeak NG voices: language variant + voice variant. Train/valid and test use disjoint sets.
_TRAIN_VOICES = [f"{lang}+{variant}" for lang in ("en-us", "en", "en-gb-x-rp")
                 for variant in ("m1", "m2", "m3", "f1", "f2", "f3", "klatt")]
_TEST_VOICES = [f"{lang}+{variant}" for lang in ("en-gb-scotland", "en-029")
                for variant in ("m4", "m7", "f4", "f5")]
# Training speech is wider than valid/test (which keep the recipe above, so that figures stay
# comparable): more accents and voice variants, faster/slower, higher/lower, flatter/livelier, some
# questions and exclamations, and a share band-limited like telephone or old recordings. Still
# disjoint from the test voices (no en-gb-scotland/en-029, no m4/m7/f4/f5).
_TRAIN_VOICES_WIDE = [f"{lang}+{variant}" for lang in (
    "en-us", "en", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
    for variant in ("m1", "m2", "m3", "m5", "m6", "m8", "f1", "f2", "f3", "klatt", "klatt3",
                    "Andy", "Annie", "adam", "aunty", "belinda", "david", "edward", "grandma",
                    "ian", "linda", "max", "paul", "robert", "steph", "travis", "zac")]
_WIDE_PROSODY = {"rate_wpm": (115, 235), "pitch": (15, 86), "pitch_range": (10, 101)}
_BANDLIMIT_SHARE = 0.25  # of training utterances: low-pass at 3.4-7 kHz (telephone to wideband)

_SUBJECTS = ["the old farmer", "a young doctor", "my neighbour", "the tired pilot", "our teacher",
             "the small child", "a quiet student", "the baker", "her brother", "the captain",
             "a clever fox", "the night nurse", "his grandmother", "the new driver", "a painter"]
_VERBS = ["carried", "painted", "repaired", "found", "sold", "watched", "opened", "cleaned",
          "borrowed", "described", "ordered", "measured", "noticed", "packed", "collected"]
_OBJECTS = ["a wooden box", "the broken clock", "seven green apples", "a heavy suitcase",
            "the yellow kite", "an ancient map", "three silver coins", "the kitchen window",
            "a bag of rice", "the garden gate", "a paper boat", "the morning newspaper",
            "two bright lamps", "a jar of honey", "the village bell"]
_PLACES = ["near the river", "before sunrise", "in the crowded market", "after the long storm",
           "behind the station", "on a windy hill", "during the concert", "at the harbour",
           "under the bridge", "in the quiet library", "beside the school", "late on Friday"]
_ENDINGS = ["", "and smiled", "without a word", "for the third time", "with great care",
            "as the bells rang", "while it rained", "and went home"]


def make_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct sentences of roughly 8-16 words, composed deterministically."""
    rng = np.random.default_rng(seed)
    sentences: list[str] = []
    seen: set[str] = set()
    capacity = len(_SUBJECTS) * len(_VERBS) * len(_OBJECTS) * len(_PLACES)
    if count > capacity // 4:
        raise UserInputError(f"make_sentences: at most {capacity // 4} sentences, asked for {count}")
    while len(sentences) < count:
        words = [_SUBJECTS[rng.integers(len(_SUBJECTS))], _VERBS[rng.integers(len(_VERBS))],
                 _OBJECTS[rng.integers(len(_OBJECTS))], _PLACES[rng.integers(len(_PLACES))],
                 _ENDINGS[rng.integers(len(_ENDINGS))]]
        sentence = " ".join(w for w in words if w)
        sentence = sentence[0].upper() + sentence[1:] + ("?" if rng.random() < 0.15 else ".")
        if sentence not in seen:
            seen.add(sentence)
            sentences.append(sentence)
    return sentences


class EspeakSynth:
    """Minimal ctypes binding of the eSpeak NG C API (synchronous mode, 16-bit samples)."""

    _AUDIO_OUTPUT_SYNCHRONOUS = 2
    _RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
    _POS_CHARACTER, _CHARS_UTF8 = 1, 1
    _lock = threading.Lock()
    _instance: EspeakSynth | None = None

    def __init__(self) -> None:
        try:
            import espeakng_loader
            self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data_path = espeakng_loader.get_data_path()
        except (ImportError, OSError, RuntimeError) as exc:
            raise RuntimeError(
                "eSpeak NG is not available: install the 'espeakng-loader' package "
                f"(pip install espeakng-loader) ({exc})") from exc
        lib = self._lib
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.sample_rate = lib.espeak_Initialize(self._AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                                 data_path.encode(), 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to initialise with data at {data_path}")
        self._chunks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                         ctypes.c_void_p)
        self._callback = callback_type(self._collect)  # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def shared(cls) -> EspeakSynth:
        """One engine per process (the C library has global state)."""
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _collect(self, wav, n_samples: int, _events) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        return 0

    def synthesize(self, text: str, voice: str = "en-us", rate_wpm: int = 160, pitch: int = 50,
                   pitch_range: int = 50, volume: int = 80) -> np.ndarray:
        """Speak ``text``; returns float32 samples at :attr:`sample_rate` (22.05 kHz)."""
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            for param, value in ((self._RATE, rate_wpm), (self._PITCH, pitch),
                                 (self._RANGE, pitch_range), (self._VOLUME, volume)):
                self._lib.espeak_SetParameter(param, int(value), 0)
            self._chunks = []
            data = text.encode("utf-8") + b"\0"
            status = self._lib.espeak_Synth(data, len(data), 0, self._POS_CHARACTER, 0,
                                            self._CHARS_UTF8, None, None)
            self._lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if status != 0 or not chunks:
            raise RuntimeError(f"eSpeak NG produced no audio for {text!r} (status {status})")
        return (np.concatenate(chunks).astype(np.float32) / 32768.0)


def _keyed_rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *keys])


def _trim_silence(audio: np.ndarray, sample_rate: int, margin_s: float = 0.1) -> np.ndarray:
    """Cut leading/trailing silence, keeping a short margin of it."""
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    if loud.size == 0:
        return audio
    margin = int(margin_s * sample_rate)
    return audio[max(0, loud[0] - margin):loud[-1] + margin]


def _coloured_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """1/f^exponent noise by spectral shaping (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1]
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2.0), n)
    return noise


def make_noise(kind: str, n: int, sample_rate: int, rng: np.random.Generator,
               babble_sources: list[np.ndarray] | None = None) -> np.ndarray:
    """One noise signal of ``kind`` (see :data:`NOISE_KINDS`), zero-mean, unit RMS."""
    t = np.arange(n) / sample_rate
    if kind == "white":
        noise = rng.standard_normal(n)
    elif kind == "pink":
        noise = _coloured_noise(n, rng, 1.0)
    elif kind == "brown":
        noise = _coloured_noise(n, rng, 2.0)
    elif kind == "hum":
        mains = rng.choice([50.0, 60.0])
        noise = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.3))
                    for k in range(1, 8)) + 0.05 * rng.standard_normal(n)
    elif kind == "babble":
        if not babble_sources:
            raise ValueError("make_noise: babble needs other utterances as sources")
        noise = np.zeros(n)
        for _ in range(int(rng.integers(4, 8))):
            source = babble_sources[int(rng.integers(len(babble_sources)))]
            source = np.tile(source, int(np.ceil(n / source.size)) + 1)
            start = int(rng.integers(0, source.size - n))
            chunk = source[start:start + n]
            noise += chunk / (np.std(chunk) + 1e-9)
    elif kind == "bursts":
        noise = 0.05 * rng.standard_normal(n)
        for _ in range(int(rng.integers(3, 9)) * max(1, n // sample_rate // 4)):
            length = int(rng.uniform(0.03, 0.3) * sample_rate)
            start = int(rng.integers(0, max(1, n - length)))
            burst = rng.standard_normal(length) * np.hanning(length) * rng.uniform(0.5, 3.0)
            noise[start:start + length] += burst
    else:
        raise ValueError(f"make_noise: unknown kind {kind!r}; expected one of {NOISE_KINDS}")
    noise = noise - noise.mean()
    return noise / (np.std(noise) + 1e-12)


def _wide_job(text: str, rng: np.random.Generator) -> tuple[str, str, int, int, int]:
    """(text, voice, rate, pitch, pitch range) of one training utterance, widely varied."""
    ending = rng.choice([".", ".", "?", "!"])
    text = text[:-1] + str(ending)
    lo_hi = [_WIDE_PROSODY[key] for key in ("rate_wpm", "pitch", "pitch_range")]
    return (text, _TRAIN_VOICES_WIDE[int(rng.integers(len(_TRAIN_VOICES_WIDE)))],
            *(int(rng.integers(lo, hi)) for lo, hi in lo_hi))


def _maybe_bandlimit(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Low-pass a share (:data:`_BANDLIMIT_SHARE`) of utterances at a random 3.4-7 kHz cutoff."""
    if rng.random() >= _BANDLIMIT_SHARE:
        return audio
    return bandpass(audio, sample_rate, None, float(rng.uniform(3400.0, 7000.0)))


def _mix(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    clean_energy = float(np.sum(clean.astype(np.float64) ** 2))
    noise_energy = float(np.sum(noise ** 2))
    return clean + noise * np.sqrt(clean_energy / noise_energy / 10.0 ** (snr_db / 10.0))


def _params_of(**params) -> dict:
    """The corpus identity recorded in the stamp (JSON-normalised for comparison)."""
    return json.loads(json.dumps({"version": DEMO_VERSION, **params}))


def _existing_corpus(out_dir: Path, params: dict) -> dict[str, Path] | None:
    stamp = out_dir / STAMP_NAME
    if not stamp.is_file():
        return None
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if recorded.get("params") != params:
        return None
    paths = {name: out_dir / rel for name, rel in recorded.get("manifests", {}).items()}
    return paths if paths and all(p.is_file() for p in paths.values()) else None


def make_demo_data(out_dir: Path, seed: int = 0, n_train: int = 300, n_valid: int = 40,
                   n_test: int = 40, sample_rate: int = 16000,
                   snr_range: tuple[float, float] = (-5.0, 15.0), noise_files: int = DEMO_NOISE_FILES,
                   noise_seconds: float = 6.0,
                   progress: Callable[[str], None] | None = print) -> dict[str, Path]:
    """Write the demo corpus under ``out_dir`` and return its manifests.

    Returns ``{"train", "valid", "test"}`` (paired ``uttid,noisy,clean,noise_kind,snr_db``),
    ``"train_clean"`` (``uttid,clean``) and ``"train_noise"`` (``uttid,noise,noise_kind``) under
    ``out_dir/manifests/``.
    Idempotent: a complete corpus with the same parameters (its stamp is written last) is reused.
    """
    out_dir = Path(out_dir)
    params = _params_of(seed=seed, n_train=n_train, n_valid=n_valid, n_test=n_test,
                        sample_rate=sample_rate, snr_range=list(snr_range),
                        noise_files=noise_files, noise_seconds=noise_seconds)
    existing = _existing_corpus(out_dir, params)
    if existing is not None:
        if progress:
            progress(f"demo data: reusing {out_dir} ({n_train}/{n_valid}/{n_test} utterances)")
        return existing
    if min(n_train, n_valid, n_test) < 1:
        raise UserInputError("make_demo_data: every split needs at least one utterance")
    sentences = make_sentences(n_train + n_valid + n_test, seed=seed)
    split_sentences = {"train": sentences[:n_train],
                       "valid": sentences[n_train:n_train + n_valid],
                       "test": sentences[n_train + n_valid:]}
    jobs: list[tuple[str, str, int, int, int]] = []
    for split_index, (split, texts) in enumerate(split_sentences.items()):
        voices = _TEST_VOICES if split == "test" else _TRAIN_VOICES
        for k, text in enumerate(texts):
            rng = _keyed_rng(seed, 1, split_index, k)
            if split == "train":
                jobs.append(_wide_job(text, rng))
                continue
            jobs.append((text, voices[int(rng.integers(len(voices)))], int(rng.integers(140, 200)),
                         int(rng.integers(30, 71)), int(rng.integers(30, 80))))
    synth = EspeakSynth.shared()
    synth_rate = synth.sample_rate
    speech_iter = (synth.synthesize(text, voice=voice, rate_wpm=rate, pitch=pitch,
                                    pitch_range=pitch_range)
                   for text, voice, rate, pitch, pitch_range in jobs)
    manifests_dir = out_dir / "manifests"
    paths: dict[str, Path] = {}
    train_clean: list[tuple[str, Path]] = []
    train_audio: list[np.ndarray] = []
    for split_index, (split, texts) in enumerate(split_sentences.items()):
        cleans: list[tuple[str, np.ndarray]] = []
        for k in range(len(texts)):
            audio = _trim_silence(next(speech_iter), synth_rate)
            audio = resample(audio, synth_rate, sample_rate).astype(np.float64)
            if split == "train":
                audio = _maybe_bandlimit(audio, sample_rate, _keyed_rng(seed, 5, split_index, k))
            level_db = _keyed_rng(seed, 2, split_index, k).uniform(-30.0, -20.0)
            audio *= 10 ** (level_db / 20) / (np.sqrt(np.mean(audio ** 2)) + 1e-12)
            cleans.append((f"{split}_{k:04d}", audio))
        pairs: list[Pair] = []
        sources = [audio for _, audio in cleans]
        for k, (uttid, clean) in enumerate(cleans):
            rng = _keyed_rng(seed, 3, split_index, k)
            kind = NOISE_KINDS[int(rng.integers(len(NOISE_KINDS)))]
            snr_db = float(rng.uniform(*snr_range))
            others = sources[:k] + sources[k + 1:]
            noise = make_noise(kind, clean.size, sample_rate, rng, others or sources)
            noisy = _mix(clean, noise, snr_db)
            peak = max(np.max(np.abs(noisy)), np.max(np.abs(clean)))
            if peak > 0.95:  # one gain for both sides keeps the pair a pair
                noisy, clean = noisy * (0.95 / peak), clean * (0.95 / peak)
            clean_path = save_audio(out_dir / split / "clean" / f"{uttid}.wav", clean, sample_rate)
            noisy_path = save_audio(out_dir / split / "noisy" / f"{uttid}.wav", noisy, sample_rate)
            pairs.append(Pair(uttid, noisy_path, clean_path,
                              {NOISE_KIND_COLUMN: kind, SNR_COLUMN: f"{snr_db:.2f}"}))
            if split == "train":
                train_clean.append((uttid, clean_path))
                train_audio.append(clean)
        paths[split] = write_manifest(manifests_dir / f"{split}.csv", pairs)
        if progress:
            progress(f"demo data: {split}: {len(pairs)} pairs")
    noise_entries: list[Entry] = []
    n_noise = int(noise_seconds * sample_rate)
    for k in range(noise_files):
        kind = NOISE_KINDS[k % len(NOISE_KINDS)]
        noise = make_noise(kind, n_noise, sample_rate, _keyed_rng(seed, 4, k), train_audio)
        noise *= 0.5 / (np.max(np.abs(noise)) + 1e-12)  # peak 0.5: headroom for mixing gains
        noise_id = f"noise_{kind}_{k:03d}"
        noise_entries.append(Entry(noise_id, save_audio(out_dir / "noise" / f"{noise_id}.wav",
                                                        noise, sample_rate), {NOISE_KIND_COLUMN: kind}))
    paths["train_clean"] = write_single_manifest(manifests_dir / "train_clean.csv", "clean",
                                                 train_clean)
    paths["train_noise"] = write_single_manifest(manifests_dir / "train_noise.csv", "noise",
                                                 noise_entries)
    write_json_atomic(out_dir / STAMP_NAME, {
        "params": params,
        "manifests": {name: p.relative_to(out_dir).as_posix() for name, p in paths.items()},
        "voices": {"train": _TRAIN_VOICES_WIDE, "valid": _TRAIN_VOICES, "test": _TEST_VOICES},
        "noise_kinds": list(NOISE_KINDS),
        # What each utterance was synthesised from: the plan a rebuild must reproduce.
        "utterances": {f"{split}_{k:04d}": {"text": job[0], "voice": job[1]}
                       for (split, k), job in zip(
                           ((split, k) for split, texts in split_sentences.items()
                            for k in range(len(texts))), jobs)},
    })
    if progress:
        progress(f"demo data: {len(noise_entries)} noise files; manifests in {manifests_dir}")
    return paths
