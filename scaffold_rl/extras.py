"""Optional heavy dependencies: import them where a feature needs them, or fail naming the extra to install."""
from __future__ import annotations

import importlib


def require_extra(module: str, extra: str, feature: str):
    """`module`, imported; or an ImportError saying that `feature` needs `pip install 'scaffold-rl[extra]'`."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{feature} needs the {module} package: pip install 'scaffold-rl[{extra}]'") from err
