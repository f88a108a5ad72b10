"""Compile a deployment tree to bytecode that is used without checking its source.

    python scripts/bytecode.py .aws-sam/build      # what `make build` runs after `sam build`

Lambda's code and layers are read-only: a module without a usable `.pyc` is compiled again
at every cold start, and the result thrown away (here that was 0.2 s of the run_tier
function's 0.9 s cold start). A timestamp-checked `.pyc` is not safe either: the zip round
trip keeps modification times to two seconds, so the check can fail and the module is
compiled anyway. An unchecked-hash `.pyc` is used as it is; the tree is built fresh on every
deploy, so it cannot go stale. Compiled by this interpreter: run it with the Python the
functions run on (3.11); another version's interpreter ignores these files.
"""

from __future__ import annotations

import compileall
import py_compile
import sys
from pathlib import Path


def compile_tree(root: Path) -> bool:
    """Every `.py` under `root` to an unchecked-hash `.pyc` beside it, in `__pycache__`."""
    return bool(
        compileall.compile_dir(
            str(root),
            quiet=1,
            force=True,
            workers=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    )


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: bytecode.py DIR...", file=sys.stderr)
        return 2
    missing = [a for a in argv if not Path(a).is_dir()]
    if missing:
        print(f"bytecode.py: not a directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    return 0 if all(compile_tree(Path(a)) for a in argv) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
