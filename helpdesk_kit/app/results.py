"""The design's result shape: every action answers ``{"success": True, ...}`` or
``{"success": False, "error": "..."}``, and its parts (the row, the notification, warnings)
are merged into that one dictionary.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Result", "merge"]

#: One action's answer, the design's ``{ success, ... }``.
Result = dict[str, Any]


def merge(*parts: Result) -> Result:
    """One result from several; two ``warning`` texts are both kept, joined by ``; ``."""
    merged: Result = {}
    for part in parts:
        for key, value in part.items():
            if key == "warning" and key in merged:
                value = f"{merged[key]}; {value}"
            merged[key] = value
    return merged
