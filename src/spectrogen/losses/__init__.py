"""GAN losses as small callables (`gan.LOSSES` registry), differentiable augmentation and the mode-seeking term."""
