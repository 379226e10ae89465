"""What many API operations share: an object's id in the path, and the answer of an
operation that returns nothing (204)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Response, status

ObjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NO_CONTENT: dict[str, Any] = {
    "status_code": status.HTTP_204_NO_CONTENT,
    "response_class": Response,
}
