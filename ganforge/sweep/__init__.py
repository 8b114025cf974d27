"""Sweeps: one spec trained over a grid of settings and several seeds, each member an ordinary
run directory under one sweep folder (:mod:`ganforge.sweep.plan`, :mod:`ganforge.sweep.folder`,
:mod:`ganforge.sweep.runner`), summarized as a table and plots (:mod:`ganforge.sweep.report`)."""
