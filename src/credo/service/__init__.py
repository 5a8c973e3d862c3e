"""The HTTP service: records in, decisions out, a subject's own record; see create_app."""

from credo.service.app import create_app
from credo.service.auth import ROLES, create_key

__all__ = ["ROLES", "create_app", "create_key"]
