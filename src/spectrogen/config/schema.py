"""The one typed, validated schema of everything a run needs. A field left as ``None`` means "the model family's
default" (`spectrogen.config.loader.resolve`), so the saved configuration holds the values really used."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GAN_FAMILIES = ("dcgan", "specgan", "cgan")  # the families built on the GAN method and its stacks
Loudness = Literal["data", "rms", "peak"]  # see spectrogen.sampling.audio

# Square image sizes the GAN families are chosen among when the data set's own size is not one; GAN stacks
# double the size per layer from a map whose short side is 4, and take any power of two per side.
GAN_SIZES = (32, 64, 128, 256)
# Largest side of a model image: far above any spectrogram the families are meant for (the cgan's
# 128 x 512 mels, say), low enough that a typo is refused instead of ending in MemoryError.
MAX_IMAGE_SIDE = 2048


class Section(BaseModel):
    """Base of every section: unknown keys are errors, assignments are validated, no float is inf or nan."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class AugmentConfig(Section):
    """Batched augmentations applied on the training device; all off by default."""

    temporal_shift: float = Field(0.0, ge=0.0, le=1.0, description="max roll along time, fraction of frames")
    noise_std: float = Field(0.0, ge=0.0, description="std of added Gaussian noise, normalised units")
    freq_mask: int = Field(0, ge=0, description="max width of one frequency mask, in bins")
    time_mask: int = Field(0, ge=0, description="max width of one time mask, in frames")
    time_stretch: float = Field(0.0, ge=0.0, lt=0.5, description="max relative stretch, e.g. 0.1 for 0.9..1.1")
    probability: float = Field(1.0, ge=0.0, le=1.0, description="chance that each sample is augmented")


class DataConfig(Section):
    path: Optional[str] = Field(None, description="folder made by `spectrogen prepare`")
    normalization: Literal["per_frequency", "minmax", "minmax01", "per_sample", "none"] = "per_frequency"
    validation_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    on_device: Literal["auto", "always", "never"] = Field("auto", description="hold the data set on the device")
    num_workers: int = Field(0, ge=0)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    class_balanced: Optional[bool] = Field(None, description="draw every class equally often; None: for cgan")


class ConditionalConfig(Section):
    """How the conditional GAN (cgan) takes its class: label map or projection (Miyato & Koyama 2018)."""

    base: Literal["dcgan", "specgan"] = "specgan"
    generator_input: Literal["onehot", "embedding"] = "onehot"
    discriminator_input: Literal["label_map", "projection"] = "label_map"
    spectral_norm: bool = False
    auxiliary_classifier: float = Field(0.0, ge=0.0, description="weight of a class head on the projection "
                                                                 "critic (AC-GAN); 0: off")


class DiffusionConfig(Section):
    base_channels: int = Field(32, ge=4)
    channel_multipliers: list[int] = Field(default_factory=lambda: [1, 2, 2])
    res_blocks: int = Field(1, ge=1)
    attention: bool = True
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    timesteps: int = Field(1000, ge=2)
    beta_schedule: Literal["linear", "cosine"] = "linear"
    prediction: Literal["epsilon", "v"] = "epsilon"
    sampler: Literal["ddpm", "ddim"] = "ddim"
    sampling_steps: int = Field(50, ge=1)
    eta: float = Field(0.0, ge=0.0)
    guidance_scale: float = Field(1.0, ge=0.0)
    class_dropout: float = Field(0.1, ge=0.0, le=1.0, description="label drop rate for classifier-free guidance")


class AutoencoderConfig(Section):
    hidden_channels: int = Field(256, ge=8)
    blocks: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    variational: bool = False
    kl_weight: float = Field(1e-3, ge=0.0)
    mse_weight: float = Field(1.0, ge=0.0)
    l1_weight: float = Field(1.0, ge=0.0)


class ModelConfig(Section):
    name: Literal["dcgan", "specgan", "cgan", "diffusion", "autoencoder"] = "dcgan"
    latent_dim: int = Field(100, ge=1)
    image_size: int = Field(128, ge=8, le=MAX_IMAGE_SIDE, description="height (frequency bins) of the spectrogram")
    image_width: Optional[int] = Field(None, ge=8, le=MAX_IMAGE_SIDE, description="width (frames); None means square")
    channels: int = Field(1, ge=1)
    features_g: int = Field(64, ge=1, description="generator width (SpecGAN: dim)")
    features_d: int = Field(64, ge=1, description="discriminator width (SpecGAN: dim)")
    batchnorm: Optional[bool] = Field(None, description="None: the family's default (DCGAN on, SpecGAN off)")
    # transposed: the papers' stride-2 convolution, which leaves a lattice of dots; the others resize, then convolve
    upsample: Optional[Literal["transposed", "nearest", "bilinear"]] = None
    latent_distribution: Optional[Literal["normal", "uniform"]] = None
    num_classes: Optional[int] = Field(None, ge=1, description="None: taken from the data set")
    conditional: ConditionalConfig = Field(default_factory=ConditionalConfig)
    diffusion: DiffusionConfig = Field(default_factory=DiffusionConfig)
    autoencoder: AutoencoderConfig = Field(default_factory=AutoencoderConfig)

    @property
    def height(self) -> int:
        return self.image_size

    @property
    def width(self) -> int:
        return self.image_width or self.image_size

    @model_validator(mode="after")
    def _size_fits_family(self) -> "ModelConfig":
        levels = len(self.diffusion.channel_multipliers)
        for key, size in (("image_size", self.height), ("image_width", self.width)):
            if self.name in GAN_FAMILIES and (size < GAN_SIZES[0] or size & (size - 1)):
                raise ValueError(f"model.{key}={size} is not possible for {self.name}: use a power of two of at "
                                 f"least {GAN_SIZES[0]} (frequency x time may differ, e.g. 128 x 256)")
            if self.name == "diffusion" and size % 2 ** (levels - 1):
                raise ValueError(f"model.{key}={size} is not possible for a U-Net with {levels} levels: use a "
                                 f"multiple of {2 ** (levels - 1)}")
        return self


class TrainingConfig(Section):
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: Optional[float] = Field(None, gt=0.0, description="None: the family's default")
    learning_rate_d: Optional[float] = Field(None, gt=0.0, description="None: same as learning_rate")
    beta1: Optional[float] = Field(None, ge=0.0, lt=1.0)
    beta2: Optional[float] = Field(None, ge=0.0, lt=1.0)
    weight_decay: Optional[float] = Field(None, ge=0.0)
    loss: Optional[Literal["bce", "lsgan", "wgan-gp", "hinge"]] = None
    gp_lambda: float = Field(10.0, ge=0.0)
    critic_steps: Optional[int] = Field(None, ge=1, description="discriminator updates per generator update")
    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="one-sided: real labels become 1-s")
    ema_decay: Optional[float] = Field(None, ge=0.0, lt=1.0, description="EMA of generator weights; None: off")
    diffaugment: list[Literal["translation", "cutout"]] = Field(default_factory=list)
    # GANs: paper keeps the family's own settings, fast is `training.small_data`'s recipe, auto: fast on a CPU
    recipe: Literal["auto", "paper", "fast"] = "auto"
    mode_seeking: float = Field(0.0, ge=0.0, description="weight of the mode-seeking term (MSGAN); 0: off")
    grad_clip: Optional[float] = Field(None, gt=0.0)
    lr_schedule: Literal["constant", "cosine", "plateau"] = "constant"
    seed: int = 0
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    precision: Literal["fp32", "bf16", "fp16", "auto"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    max_minutes: Optional[float] = Field(None, gt=0.0, description="stop (and save) after this wall time")
    max_steps_per_epoch: Optional[int] = Field(None, ge=1)
    threads: Optional[int] = Field(None, ge=1, description="CPU threads; None: the cores other work leaves free")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda", "mps") or (value.startswith("cuda:") and value[5:].isdigit()):
            return value
        raise ValueError(f"training.device={value!r}: use auto, cpu, cuda, cuda:N or mps")


class MonitorConfig(Section):
    """Health checks during training: non-finite steps, convergence and mode collapse."""

    nan_policy: Literal["restore", "lower_lr", "skip", "stop"] = Field(
        "lower_lr", description="restore: reload the last good state; lower_lr: also halve the learning rates")
    stability_window: int = Field(10, ge=2)
    # the samples' layout diversity relative to the real examples' below which mode collapse is flagged
    collapse_threshold: float = Field(0.5, ge=0.0)
    class_collapse_threshold: float = Field(0.5, ge=0.0, description="cgan: the same within each class; 0: off")
    early_stop_on_collapse: bool = False
    plateau_patience: int = Field(10, ge=1)


class EvaluationConfig(Section):
    """Metrics computed during training and by `spectrogen evaluate`."""

    eval_every: int = Field(0, ge=0, description="epochs between metric runs; 0: off")
    metrics: list[str] = Field(default_factory=lambda: ["fid", "kid", "diversity"])
    num_samples: int = Field(256, ge=2)
    classifier: Optional[str] = Field(None, description="path of a classifier made by `evaluate --train-classifier`")
    best_metric: str = Field("fid", description="metric that decides best_model.tar (lower is better)")


class OutputConfig(Section):
    output_dir: str = "output_spectrogen"
    sample_every: int = Field(1, ge=1)
    plot_every: int = Field(5, ge=1)
    checkpoint_every: int = Field(1, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    num_samples: int = Field(16, ge=1, description="fixed-noise samples written per sampling epoch")
    log_every: int = Field(100, ge=1, description="iterations between rows of epoch_N_iterations.csv")
    tensorboard: bool = False
    report: bool = True
    griffin_lim_iterations: int = Field(32, ge=1)
    loudness: Loudness = Field("data", description="level of the report's .wav files (sampling.audio)")


class ExperimentConfig(Section):
    """Everything a run needs; saved as `epochs_statistics/experiment_config.json` and in checkpoints."""

    name: str = "experiment"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    # written by spectrogen: each preset, file or step that set values, in order, with the dotted keys it set;
    # a value comes from the last one naming its key, else it is the schema's default
    resolved_from: dict[str, list[str]] = Field(default_factory=dict)
