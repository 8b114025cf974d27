"""Serving a trained generator over HTTP (``ganforge serve``)."""

from ganforge.serving.page import PageInfo
from ganforge.serving.server import SampleServer

__all__ = ["PageInfo", "SampleServer"]
