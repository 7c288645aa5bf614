"""Where the open ``ap_fixed``/``ap_int``/``hls_stream`` headers are: in the hls4ml wheel.

>>> (ap_types_include() / "ap_fixed.h").is_file()
True
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from einsum import CascadeError

__all__ = ["ap_types_include"]


def ap_types_include() -> Path:
    """The include folder of Xilinx's Apache-2.0 ap_types headers shipped by hls4ml 1.3.0."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise CascadeError("the ap_fixed headers come with the hls4ml wheel; "
                           "pip install hls4ml==1.3.0")
    folder = Path(next(iter(spec.submodule_search_locations))) / "templates" / "vivado" / \
        "ap_types"
    if not (folder / "ap_fixed.h").is_file():
        raise CascadeError(f"hls4ml is installed but {folder}/ap_fixed.h is missing")
    return folder
