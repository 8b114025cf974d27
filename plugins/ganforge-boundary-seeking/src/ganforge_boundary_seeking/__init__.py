"""ganforge-boundary-seeking: the boundary-seeking GAN loss for ganforge."""

from ganforge_boundary_seeking.plugin import BoundarySeekingLoss

__all__ = ["BoundarySeekingLoss"]
