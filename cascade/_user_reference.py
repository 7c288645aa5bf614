"""A user's numpy reference for ``cascade check FILE --reference module:function``.

The function takes the cascade's inputs (a dict of numpy arrays named as the cascade's
input tensors) and returns its outputs (a dict by output name, or one array when the
cascade has one output). Whatever goes wrong inside it is reported in one line.

>>> import_reference("einsum:softmax_attention").__name__
'softmax_attention'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from einsum import Cascade, CascadeError, Reference, read_text, validate

__all__ = ["import_reference", "user_reference"]

Formula = Callable[[dict[str, np.ndarray]], Any]


def import_reference(spec: str) -> Formula:
    """The function ``module:function`` names: a module on the path (the working folder
    first) or a ``.py`` file."""
    module_name, sep, function = spec.rpartition(":")
    if not sep or not module_name or not function.isidentifier():
        raise CascadeError(f"--reference takes MODULE:FUNCTION or FILE.py:FUNCTION, "
                           f"not {spec!r}")
    try:
        if module_name.endswith(".py") or "/" in module_name:
            read_text(module_name, "reference module")  # a regular, readable, bounded file
            found = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            if found is None or found.loader is None:
                raise CascadeError(f"{module_name}: not a Python module")
            module = importlib.util.module_from_spec(found)
            found.loader.exec_module(module)
        else:
            sys.path.insert(0, str(Path.cwd()))
            try:
                module = importlib.import_module(module_name)
            finally:
                sys.path.remove(str(Path.cwd()))
    except CascadeError:
        raise
    except (Exception, SystemExit) as error:  # the user's module: anything may happen
        raise CascadeError(f"reference module {module_name} could not be loaded: "
                           f"{type(error).__name__}: {error}") from None
    formula = getattr(module, function, None)
    if not callable(formula):
        raise CascadeError(f"reference module {module_name} has no function {function}")
    return formula


def user_reference(cascade: Cascade, formula: Formula,
                   shapes: Sequence[dict[str, int]]) -> Reference:
    """The check of ``cascade`` against ``formula`` at each of ``shapes`` (a lone array
    answers for a cascade's only output)."""
    if not shapes:
        raise CascadeError(f"{cascade.name}: give the sizes to check at with --shape, e.g. "
                           f"--shape E=8,F=8,M=40,P=40", file=cascade.file)
    layout = validate(cascade)
    outputs = tuple(layout.outputs)

    def checked(inputs: dict[str, np.ndarray]) -> dict[str, Any]:
        try:
            answer = formula(dict(inputs))
        except (Exception, SystemExit) as error:
            raise CascadeError(f"the reference raised {type(error).__name__}: {error}") \
                from None
        if not isinstance(answer, dict):
            if len(outputs) != 1:
                raise CascadeError(f"the reference must return a dict of "
                                   f"{', '.join(outputs)}, not {type(answer).__name__}")
            answer = {outputs[0]: answer}
        return answer

    return Reference(checked, tuple(dict(s) for s in shapes))

