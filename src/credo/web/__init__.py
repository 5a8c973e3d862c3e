"""The pages: server-rendered Jinja2, HTMX vendored, one stylesheet; no CDN, no JavaScript build."""

from credo.web.pages import mount_pages

__all__ = ["mount_pages"]
