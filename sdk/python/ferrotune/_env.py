"""What ferrotune puts in a trial's environment: its parameters and checkpoint folders."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

ENDPOINT = "FERROTUNE_ENDPOINT"
TRIAL = "FERROTUNE_TRIAL"
NAMESPACE = "FERROTUNE_NAMESPACE"
TOKEN = "FERROTUNE_TOKEN"
CA_FILE = "FERROTUNE_CA_FILE"
PARAMS = "FERROTUNE_PARAMS"
CHECKPOINT_DIR = "FERROTUNE_CHECKPOINT_DIR"
PARENT_CHECKPOINT_DIR = "FERROTUNE_PARENT_CHECKPOINT_DIR"


def params(defaults: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The trial's parameters (numbers for numeric parameters, strings for categorical ones).

    `defaults`, when given, are returned for the parameters the trial does not set, so the
    same script runs outside ferrotune, where there are none. A new dict on every call.
    """
    out: Dict[str, Any] = dict(defaults or {})
    text = os.environ.get(PARAMS, "").strip()
    if text:
        try:
            value = json.loads(text)
        except ValueError as e:
            raise ValueError(f"{PARAMS} is not valid JSON: {e}") from None
        if not isinstance(value, dict):
            raise ValueError(f"{PARAMS} is not a JSON object: {text[:200]}")
        out.update(value)
    return out


def _path(var: str) -> Optional[Path]:
    value = os.environ.get(var, "")
    return Path(value) if value else None


def checkpoint_dir() -> Optional[Path]:
    """The trial's own folder to save checkpoints in (FERROTUNE_CHECKPOINT_DIR), or None."""
    return _path(CHECKPOINT_DIR)


def parent_checkpoint_dir() -> Optional[Path]:
    """The folder of the trial this one continues (FERROTUNE_PARENT_CHECKPOINT_DIR), to
    restore from (PBT, Hyperband promotions), or None."""
    return _path(PARENT_CHECKPOINT_DIR)
