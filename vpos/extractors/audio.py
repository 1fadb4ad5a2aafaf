"""Audio features per analysis step: log-mel, MFCC, loudness, silence, spectral flux, and
training-free speech-vs-music descriptors.

The speech/music descriptors follow Scheirer & Slaney (1997): speech alternates voiced syllables and
short pauses about four times a second, so within a one-second window it has many low-energy
frames and strong 2-8 Hz modulation of its envelope; music is sustained. `speech_cue` combines the
two into a 0..1 cue. It is a descriptor, not a trained classifier: detectors downstream learn how
much to trust it.
"""

from __future__ import annotations

import numpy as np
import torch

from ..media import AUDIO_RATE, Chunk
from .base import AUDIO, Extractor, FeatureSet, RunContext

N_FFT = 400  # 25 ms
HOP = 160  # 10 ms: 100 frames per second
N_MELS = 64
N_MFCC = 20


class AudioExtractor(Extractor):
    name = "audio"
    version = "1"
    needs = frozenset({AUDIO})

    def __init__(self, silence_db: float = -45.0):
        self.silence_db = silence_db
        self._mel = None
        self._mfcc = None

    def config(self):
        return {"silence_db": self.silence_db, "n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS, "n_mfcc": N_MFCC}

    def load(self, device: str = "cpu") -> None:
        import torchaudio

        if self._mel is None:
            self._mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=AUDIO_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, center=False, power=2.0
            )
            self._mfcc = torchaudio.transforms.MFCC(
                sample_rate=AUDIO_RATE,
                n_mfcc=N_MFCC,
                melkwargs={"n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS, "center": False},
            )

    def begin(self, ctx: RunContext) -> None:
        self.load()
        self.step = int(round(AUDIO_RATE / ctx.sample_rate))
        self.frames_per_step = self.step // HOP
        self._buf = np.zeros(0, np.float32)
        self._out: dict[str, list[np.ndarray]] = {
            k: []
            for k in (
                "logmel",
                "mfcc",
                "loudness_db",
                "spectral_flux",
                "low_energy_ratio",
                "modulation_4hz",
                "speech_cue",
            )
        }
        self._prev_spec_last = None

    def update(self, chunk: Chunk) -> None:
        if chunk.audio.size:
            self._buf = np.concatenate([self._buf, chunk.audio])
        # Keep N_FFT - HOP samples of look-ahead so every step gets exactly frames_per_step frames.
        n = (len(self._buf) - (N_FFT - HOP)) // self.step
        if n > 0:
            self._process(self._buf[: n * self.step + N_FFT - HOP], n)
            self._buf = self._buf[n * self.step :]

    def finish(self) -> FeatureSet:
        if len(self._buf) > 0:
            n = int(np.ceil(len(self._buf) / self.step))
            padded = np.zeros(n * self.step + N_FFT - HOP, np.float32)
            padded[: len(self._buf)] = self._buf
            self._process(padded, n)
        arrays = {}
        for k, parts in self._out.items():
            if parts:
                arrays[k] = np.concatenate(parts)
            else:
                width = {"logmel": (N_MELS,), "mfcc": (N_MFCC,)}.get(k, ())
                arrays[k] = np.zeros((0,) + width, np.float32)
        arrays["silence"] = (arrays["loudness_db"] < self.silence_db).astype(np.uint8)
        arrays["logmel"] = arrays["logmel"].astype(np.float16)
        arrays["mfcc"] = arrays["mfcc"].astype(np.float16)
        per_sample = [k for k in arrays if k != "mfcc"]
        fill = {"loudness_db": -100.0, "silence": 1, "logmel": float(np.log(1e-10))}
        meta = {
            "per_sample": per_sample,
            "fill": fill,
            "mfcc_rate": AUDIO_RATE / HOP,
            "silence_db": self.silence_db,
        }
        self._buf = np.zeros(0, np.float32)
        return FeatureSet(arrays=arrays, meta=meta)

    @torch.inference_mode()
    def _process(self, audio: np.ndarray, n_steps: int) -> None:
        fps = self.frames_per_step
        x = torch.from_numpy(np.ascontiguousarray(audio))
        mel = self._mel(x)  # (N_MELS, frames)
        mfcc = self._mfcc(x)  # (N_MFCC, frames)
        frames = n_steps * fps
        mel = mel[:, :frames]
        mfcc = mfcc[:, :frames]
        logmel = torch.log(mel + 1e-10)
        # Per 10 ms frame RMS energy from the raw samples (exact, not from the mel bank).
        sq = torch.from_numpy(audio[: frames * HOP].astype(np.float32) ** 2).view(frames, HOP)
        frame_rms = sq.mean(1).sqrt()

        lm = logmel.view(N_MELS, n_steps, fps)
        self._out["logmel"].append(lm.mean(2).T.numpy())
        self._out["mfcc"].append(mfcc.T.numpy())

        rms = frame_rms.view(n_steps, fps)
        step_rms = rms.pow(2).mean(1).sqrt()
        loud = 20 * torch.log10(step_rms + 1e-10)
        self._out["loudness_db"].append(loud.numpy().astype(np.float32))

        # Spectral flux: positive change of the normalised mel spectrum between frames.
        spec = mel / (mel.sum(0, keepdim=True) + 1e-10)
        prev = self._prev_spec_last if self._prev_spec_last is not None else spec[:, :1]
        d = torch.diff(torch.cat([prev, spec], 1), dim=1).clamp(min=0).sum(0)
        self._prev_spec_last = spec[:, -1:]
        self._out["spectral_flux"].append(d.view(n_steps, fps).mean(1).numpy().astype(np.float32))

        # Low-energy ratio: share of frames quieter than half the step's mean RMS.
        mean_rms = rms.mean(1, keepdim=True)
        ler = (rms < 0.5 * mean_rms).float().mean(1)
        # 4 Hz modulation: share of the envelope's modulation energy between 2 and 8 Hz.
        env = rms - rms.mean(1, keepdim=True)
        spec_env = torch.fft.rfft(env, dim=1).abs().pow(2)
        freqs = torch.fft.rfftfreq(fps, d=HOP / AUDIO_RATE)
        band = (freqs >= 2) & (freqs <= 8)
        mod = spec_env[:, band].sum(1) / (spec_env[:, 1:].sum(1) + 1e-12)
        audible = (loud > self.silence_db).float()
        cue = (0.5 * ((ler - 0.1) / 0.35).clamp(0, 1) + 0.5 * ((mod - 0.25) / 0.4).clamp(0, 1)) * audible
        self._out["low_energy_ratio"].append(ler.numpy().astype(np.float32))
        self._out["modulation_4hz"].append(mod.numpy().astype(np.float32))
        self._out["speech_cue"].append(cue.numpy().astype(np.float32))
