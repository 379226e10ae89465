"""The JSON API, ``/api/v1``: routes call the core use cases, errors become problems."""

from mailward.web.api.app import build_api, install_api, openapi_document
from mailward.web.api.routes import router

__all__ = ["build_api", "install_api", "openapi_document", "router"]
