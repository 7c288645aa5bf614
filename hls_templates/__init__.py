"""HLS C++ projects from mappings (jinja2 templates in ``hls/``), and their C simulation.

>>> from hls_templates import KERNELS
>>> list(KERNELS)
['fusemax', 'softmax', 'gelu', 'linear', 'linear_gelu', 'encoder']
"""

from __future__ import annotations

from ._csim import CsimResult, Mismatch, csim
from ._kernels import KERNELS
from ._numerics import load_numerics
from ._render import HlsError, emit_hls

__all__ = ["KERNELS", "CsimResult", "HlsError", "Mismatch", "csim", "emit_hls",
           "load_numerics"]
