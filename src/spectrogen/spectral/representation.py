"""The `Representation`: audio (B, S) -> features (B, F, T) by pad_end STFT magnitude -> [mel] -> [resize the power to
`image_size`] -> log, and back by inverse log -> [resize] -> [mel -> linear by NNLS] -> PGHI phase -> fast Griffin-Lim,
at the clip's level. Presets: ``specgan`` 128 x 128 at 16 kHz (Donahue et al. 2019), ``mel`` 128 x 512 at 22.05 kHz
(the reference conditional GAN), ``autoencoder`` 128 x 256 mels at 16 kHz; mels are of magnitudes (power 1)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, Optional

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from torch import nn

from spectrogen.errors import ConfigError, InputError
from spectrogen.spectral.compression import LogKind, compress, decompress
from spectrogen.spectral.griffin_lim import GriffinLim, PhaseInit
from spectrogen.spectral.mel import InverseMelScale, MelScale, check_mel_range
from spectrogen.spectral.resize import resize_magnitude
from spectrogen.spectral.stft import Spectrogram, check_framing

PRESETS: dict[str, dict[str, Any]] = {
    "specgan": dict(kind="stft", sample_rate=16000, n_fft=256, win_length=256, hop_length=128,
                    log="log_eps", drop_nyquist=True, frames=128),
    "mel": dict(kind="mel", sample_rate=22050, n_fft=1024, win_length=1024, hop_length=256,
                n_mels=128, fmin=0.0, fmax=None, log="log1p", frames=512),
    "autoencoder": dict(kind="mel", sample_rate=16000, n_fft=1280, win_length=1280, hop_length=320,
                        n_mels=128, fmin=0.0, fmax=None, log="log1p", frames=256),
}


class Representation(BaseModel):
    """Parameters of the audio <-> spectrogram mapping; saved with data sets and checkpoints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["stft", "mel", "image"] = "stft"
    sample_rate: int = Field(16000, gt=0)
    n_fft: int = Field(256, ge=2)
    win_length: int = Field(256, ge=1, description="window length; defaults to n_fft")
    hop_length: int = Field(128, ge=1)
    n_mels: int = Field(128, ge=1)
    fmin: float = Field(0.0, ge=0.0)
    fmax: Optional[float] = Field(None, gt=0.0, description="None: sample_rate / 2")
    log: LogKind = "log_eps"
    drop_nyquist: bool = False
    frames: int = Field(128, ge=1, description="frames per example")
    image_size: Optional[tuple[int, int]] = Field(
        None, description="[H, W] the data set stores its features at (`prepare --image-size`); the model's own "
                          "size is model.image_size, and training resizes to it where the two differ")

    @model_validator(mode="before")
    @classmethod
    def _window_defaults_to_n_fft(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("win_length") is None:
            data = {**data, "win_length": data.get("n_fft", 256)}
        return data

    @field_validator("image_size")
    @classmethod
    def _positive_size(cls, value: Optional[tuple[int, int]]) -> Optional[tuple[int, int]]:
        if value is not None and min(value) < 1:
            raise ValueError(f"image_size={list(value)}: use two positive integers [H, W]")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Representation":
        if self.kind == "image":
            if self.image_size is None:
                raise ConfigError("representation.image_size is required for kind='image' ([H, W] of the arrays)")
            return self
        check_framing(self.n_fft, self.hop_length, self.win_length)
        if self.drop_nyquist and (self.kind != "stft" or self.n_fft % 2):
            raise ConfigError(f"representation.drop_nyquist applies to kind='stft' with an even n_fft "
                              f"(got kind={self.kind!r}, n_fft={self.n_fft}); set it to false")
        if self.kind == "mel":
            check_mel_range(self.sample_rate, self.n_mels, self.fmin, self.mel_fmax)
        return self

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "Representation":
        """Returns the named preset (specgan, mel, autoencoder), with `overrides` applied."""
        if name not in PRESETS:
            raise ConfigError(f"unknown representation preset {name!r}; choose one of: {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Representation":
        """Returns the representation saved by :meth:`to_dict`; ConfigError names a bad key."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "(whole)"
            raise ConfigError(f"representation.{key}: {first['msg']} (got {first.get('input')!r})") from None

    def to_dict(self) -> dict[str, Any]:
        """Returns plain JSON types (image_size as a list)."""
        return self.model_dump(mode="json")

    @property
    def mel_fmax(self) -> float:
        return self.sample_rate / 2 if self.fmax is None else self.fmax

    @property
    def native_shape(self) -> tuple[int, int]:
        """(F, T) of one example before resizing."""
        if self.kind == "image":
            return tuple(self.image_size)
        rows = self.n_mels if self.kind == "mel" else self.n_fft // 2 + (0 if self.drop_nyquist else 1)
        return rows, self.frames

    @property
    def shape(self) -> tuple[int, int]:
        """(F, T) of one example as the data set stores it (after `image_size`)."""
        return tuple(self.image_size) if self.image_size is not None else self.native_shape

    @property
    def num_samples(self) -> int:
        """Audio samples per example: frames * hop_length."""
        self._require_audio()
        return self.frames * self.hop_length

    @property
    def duration(self) -> float:
        """Seconds of audio per example."""
        return self.num_samples / self.sample_rate

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """Returns un-normalised features (B, F, T) of audio (B, S); T = ceil(S / hop_length), so a clip of
        `num_samples` gives `shape` (other lengths other widths, unless `image_size` is set)."""
        self._require_audio()
        if audio.dim() < 1 or audio.shape[-1] < 1:
            raise InputError(f"features need audio shaped (B, S) with S >= 1, got {tuple(audio.shape)}")
        frontend = _frontend(self, audio.device)
        magnitude = frontend.spectrogram(audio.float())  # (B, K, T)
        if self.kind == "mel":
            magnitude = frontend.mel(magnitude)  # (B, n_mels, T)
        if self.image_size is not None:
            magnitude = resize_magnitude(magnitude, self.image_size)  # (B, H, W), the clip's energy kept
        # the magnitude is a tensor of its own: compressed in place when no gradient flows through it
        return compress(magnitude, self.log, inplace=not magnitude.requires_grad)

    def magnitude(self, features: torch.Tensor) -> torch.Tensor:
        """Returns the linear STFT magnitude (B, K, T) behind `features` (B, F, T), at the native size; K is
        n_fft // 2 + 1, or n_fft // 2 when the Nyquist row is dropped."""
        self._require_audio()
        # T is free unless the frames were resized to `image_size`
        if features.dim() < 2 or features.shape[-2] != self.shape[0] or (
                self.image_size is not None and features.shape[-1] != self.image_size[1]):
            raise InputError(f"features shaped {tuple(features.shape)} do not fit this representation: expected "
                             f"(B, {self.shape[0]}, {'T' if self.image_size is None else self.shape[1]}) with "
                             "frequency on axis -2")
        magnitude = decompress(features.float(), self.log)
        if self.image_size is not None:
            magnitude = resize_magnitude(magnitude, self.native_shape)  # (B, F, T), as features() shrank it
        if self.kind == "mel":
            magnitude = _frontend(self, features.device).inverse_mel(magnitude)
        return magnitude

    def to_audio(self, features: torch.Tensor, n_iter: int = 32, generator: torch.Generator | None = None,
                 init: PhaseInit = "pghi") -> torch.Tensor:
        """Returns audio (B, T * hop_length) from features (B, F, T) by fast Griffin-Lim from phase `init`; random
        phases (all of "random", pghi's quiet bins) come from `generator`. kind="image" raises InputError."""
        magnitude = self.magnitude(features)  # (B, K, T)
        return _frontend(self, features.device).griffin_lim(magnitude, generator=generator, n_iter=n_iter, init=init)

    def _require_audio(self) -> None:
        if self.kind == "image":
            raise InputError("this data set has no audio representation (representation.kind='image'): its arrays "
                             "were not made from audio, so they cannot be turned into sound")


class _Frontend(nn.Module):
    """The transform modules of one representation on one device (filter banks built once)."""

    def __init__(self, rep: Representation):
        super().__init__()
        self.spectrogram = Spectrogram(rep.n_fft, rep.hop_length, rep.win_length, drop_nyquist=rep.drop_nyquist)
        mel_args = (rep.sample_rate, rep.n_fft, rep.n_mels, rep.fmin, rep.mel_fmax)
        self.mel = MelScale(*mel_args) if rep.kind == "mel" else None
        self.inverse_mel = InverseMelScale(*mel_args) if rep.kind == "mel" else None
        self.griffin_lim = GriffinLim(rep.n_fft, rep.hop_length, rep.win_length,
                                      nyquist_dropped=rep.kind == "stft" and rep.drop_nyquist)


@lru_cache(maxsize=16)
def _frontend(rep: Representation, device: torch.device) -> _Frontend:
    # ordinary tensors even when first asked for under inference_mode: later calls with autograd use them too
    with torch.inference_mode(False), torch.no_grad():
        return _Frontend(rep).to(device)
