"""One fix for old Triton interpreters, so the kernels run under ``TRITON_INTERPRET=1`` with
triton 3.6-3.9 and numpy 2.3-2.5 alike.

The interpreter hands every scalar kernel argument to the kernel as a one-element array of
shape (1,). Before triton 3.8 its ``tensor.__index__`` (what ``range``, and so ``tl.range``,
calls on a runtime loop bound) is ``int(data)``; numpy 2.4 made ``int()`` of a 1-d array an
error ("only 0-dimensional arrays can be converted to Python scalars"), so every time loop
fails there. Triton 3.8 reads the element (``int(data.squeeze())``). On an interpreter whose
``__index__`` fails that way, :func:`install` wraps the hook that patches ``tl.tensor`` for
each interpreted call so that ``__index__`` reads the element as 3.8 does. Nothing changes for
compiled kernels or for interpreters that already work.
"""

from __future__ import annotations

from typing import Any

_MARK = "_synnet_triton_index_fix"


def interpreter_index_fails() -> bool:
    """True when this Triton interpreter cannot take a scalar argument as a loop bound."""
    import numpy as np
    import triton.language as tl
    from triton.runtime import interpreter

    scope = interpreter._LangPatchScope()
    original = getattr(interpreter._patch_lang_tensor, "__wrapped__",
                       interpreter._patch_lang_tensor)
    try:
        original(tl.tensor, scope)
        handle = interpreter.TensorHandle(np.array([3], dtype=np.int32), tl.int32)
        range(tl.tensor(handle, tl.int32))  # type: ignore[call-overload]
    except TypeError:
        return True
    finally:
        scope.restore()
    return False


def install() -> bool:
    """Apply the fix where it is needed (idempotent); True if it is in place."""
    from triton.runtime import interpreter

    if not hasattr(interpreter, "_patch_lang_tensor"):  # an interpreter this fix does not know
        return False
    if getattr(interpreter._patch_lang_tensor, _MARK, False):
        return True
    if not interpreter_index_fails():
        return False
    original = interpreter._patch_lang_tensor

    def patch_lang_tensor(tensor: Any, scope: Any) -> None:
        original(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.item()))

    setattr(patch_lang_tensor, _MARK, True)
    patch_lang_tensor.__wrapped__ = original  # type: ignore[attr-defined]
    interpreter._patch_lang_tensor = patch_lang_tensor
    return True
