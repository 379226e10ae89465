"""Print the API's OpenAPI document: ``python -m mailward.web.api.document``."""

from __future__ import annotations

import json
import sys

from mailward.web.api.app import openapi_document


def render() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
