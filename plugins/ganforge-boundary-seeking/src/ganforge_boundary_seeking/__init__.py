"""ganforge-boundary-seeking: the boundary-seeking GAN loss for ganforge
(``ganforge_boundary_seeking.loss.BoundarySeekingLoss``)."""
