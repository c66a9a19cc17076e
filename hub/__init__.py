"""Serious Violence Duty data-sharing hub.

The public surface is deliberately small; the rooms of the house are the subpackages:
``agreements``, ``privacy``, ``pipeline``, ``linkage``, ``publication``, ``store``,
``synth``, ``web`` and ``cli``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("svd-hub")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
