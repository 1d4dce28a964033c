"""Speaker embeddings behind the `VoiceEncoder` protocol: GE2E (Wan et al. 2018) with the weights that the
`resemblyzer` package ships (Apache-2.0, 17 MB, no download at run time).

Only the weights are taken from the package: the 3-layer LSTM is declared here and the 40-band mel frames are
computed with numpy the way resemblyzer computes them with librosa (25 ms Hann window, 10 ms hop, Slaney mel
scale and norm, power spectrum, no log), so librosa, numba and webrtcvad are not needed.
"""

from __future__ import annotations

import importlib.util
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Protocol

import numpy as np

from tube2lora_shared.errors import StageError

SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS = 400, 160, 40  # 25 ms window, 10 ms hop
WINDOW_FRAMES = 160  # GE2E's partial utterance: 1.6 s
TARGET_DBFS = -30.0


class VoiceEncoder(Protocol):
    def identity(self) -> str: ...

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        """One L2-normalized embedding per clip of 16 kHz mono float audio: shape (len(clips), dim)."""
        ...


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    hz = np.asanyarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_part = hz >= 1000.0
    return np.where(log_part, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asanyarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular Slaney-normalized filters, shape (n_mels, n_fft // 2 + 1), as librosa.filters.mel builds them."""
    fft_hz = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    gaps = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / gaps[:-1, None]
    upper = ramps[2:] / gaps[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_hz[2:n_mels + 2] - mel_hz[:n_mels]))[:, None]


_FILTERS = mel_filters()
_WINDOW = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann


def mel_frames(audio: np.ndarray) -> np.ndarray:
    """Mel power frames (n_frames, 40) of 16 kHz audio, centred frames with zero padding (librosa >= 0.10)."""
    padded = np.pad(audio.astype(np.float64), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(padded[idx] * _WINDOW, axis=1)) ** 2
    return (spectrum @ _FILTERS.T).astype(np.float32)


def normalize_volume(audio: np.ndarray) -> np.ndarray:
    """Raise quiet audio to -30 dBFS (never lower it), as resemblyzer's preprocessing does."""
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0
    if rms <= 0:
        return audio
    gain_db = TARGET_DBFS - 20 * np.log10(rms)
    return audio * (10 ** (gain_db / 20)) if gain_db > 0 else audio


def weights_file() -> Path:
    """resemblyzer's pretrained.pt, found without importing the package (its __init__ imports librosa)."""
    spec = importlib.util.find_spec("resemblyzer")
    path = Path(spec.submodule_search_locations[0]) / "pretrained.pt" if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise StageError("speaker attribution needs the resemblyzer package's voice encoder weights "
                         "(`uv sync --all-packages`), or set transcribe.speakers: off")
    return path


class GE2EEncoder:
    """The GE2E LSTM on CPU; each clip is cut into 1.6 s partials whose embeddings are averaged."""

    def identity(self) -> str:
        return f"ge2e resemblyzer {metadata.version('resemblyzer')}"

    @cached_property
    def model(self):
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
                self.linear = nn.Linear(256, 256)

            def forward(self, mels):
                _, (hidden, _) = self.lstm(mels)
                raw = torch.relu(self.linear(hidden[-1]))
                return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-9)

        net = Net()
        state = torch.load(weights_file(), map_location="cpu", weights_only=True)["model_state"]
        net.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity_")})
        return net.eval()

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        import torch

        batch, owner = [], []
        for i, clip in enumerate(clips):
            mels = mel_frames(normalize_volume(clip))
            if len(mels) < WINDOW_FRAMES:
                mels = np.pad(mels, ((0, WINDOW_FRAMES - len(mels)), (0, 0)))
            starts = range(0, len(mels) - WINDOW_FRAMES + 1, WINDOW_FRAMES // 2)
            for s in starts:
                batch.append(mels[s:s + WINDOW_FRAMES])
                owner.append(i)
        if not batch:
            return np.zeros((0, 256), dtype=np.float32)
        with torch.inference_mode():
            partial = np.concatenate([self.model(torch.from_numpy(np.stack(batch[k:k + 256]))).numpy()
                                      for k in range(0, len(batch), 256)])
        owner_idx = np.array(owner)
        out = np.stack([partial[owner_idx == i].mean(axis=0) for i in range(len(clips))])
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-9)
