"""The API's routes, one router per resource, joined by create_app (credo.service.app)."""

from fastapi import APIRouter

from credo.service.routes import appeals, decisions, health, keys, me, records, rulebook

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    rulebook.router,
    records.router,
    decisions.router,
    keys.router,
    me.router,
    appeals.router,
)

__all__ = ["ROUTERS"]
