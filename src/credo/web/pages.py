"""The pages: the public rulebook, a person's own file, and the reviewer's desk.

Each page calls the same library functions as its JSON twin under /v1 and links to it. Domain
errors become a page that says what to do (never a traceback); forms carry a CSRF token.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures.

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credo.errors import Conflict, CredoError, NotFound
from credo.ledger.chain import from_micros, micros
from credo.semantics import NoRulebookInForce
from credo.service.appeals import QUEUE_PAGE
from credo.service.errors import ApiError
from credo.service.replay import UnknownDecision, replay
from credo.service.services import Services
from credo.service.views import whole_file
from credo.templating import environment
from credo.web.desk import population_over_time, received_per_day
from credo.web.key_pages import add_key_pages
from credo.web.sessions import BadForm, Session, Sessions, SignInRequired, check_csrf
from credo.web.views import person_file, population_figures, records_page, rulebook_page, when

HERE = Path(__file__).parent
#: No inline script or style anywhere; every asset is served from this origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
PAGE_PREFIXES = ("/rulebook", "/me", "/desk", "/sign-in", "/sign-out", "/static")


def templates() -> Environment:
    """The one autoescaping Jinja2 environment of credo's pages (and the simulator's reports)."""
    return environment()


class PageHeaders:
    """Security headers on every page: the CSP above, no framing, no MIME sniffing, no referrer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/" or path.startswith(PAGE_PREFIXES)):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                if not path.startswith("/static"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def mount_pages(app: FastAPI, services: Services, secret: str | None = None) -> None:
    """Add the pages, their static files and their headers to the service (over the API's services)."""
    store, ledger, appeals, cache, clock = (services.store, services.ledger, services.appeals, services.cache,
                                            services.clock)  # fmt: skip
    env = templates()
    sessions = Sessions(services.keyring, secret)
    router = APIRouter(include_in_schema=False)

    def page(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        session = sessions.current(request)
        html = env.get_template(name).render(session=session, path=request.url.path, **values)
        return HTMLResponse(html, status_code=status)

    def problem(request: Request, status: int, title: str, message: str, action: str = "") -> HTMLResponse:
        return page(request, "problem.html", status=status, title=title, message=message, action=action)

    def signed_in(request: Request, *roles: str) -> Session:
        session = sessions.require(request)
        if session.key.role not in roles:
            raise PermissionError(f"a {session.key.role} key cannot open this page")
        return session

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return page(request, "home.html")

    @router.get("/rulebook", response_class=HTMLResponse)
    def public_rulebook(request: Request) -> HTMLResponse:
        now = clock()
        history = ledger.history()
        version = next((v for v in reversed(history.versions) if v.effective <= now), None)
        if version is None:
            return problem(request, 404, "No rulebook yet", "No rulebook is in force yet: nothing is scored.")
        figures = population_figures(store.population_runs(limit=1), version.rulebook)
        book = rulebook_page(version.rulebook, version.effective)
        return page(request, "rulebook.html", book=book, figures=figures)

    @router.get("/rulebook/versions", response_class=HTMLResponse)
    def public_versions(request: Request) -> HTMLResponse:
        history = ledger.history()
        tz = history.versions[-1].rulebook.tz if history else dt.UTC
        rows = [
            {
                "name": s.name,
                "version": s.version,
                "effective": when(from_micros(s.effective_us), tz),
                "published": when(from_micros(s.published_us), tz),
                "retroactive": s.retroactive,
            }
            for s in reversed(store.versions())
        ]
        return page(request, "versions.html", versions=rows)

    def sign_in_page(request: Request, message: str = "", status: int = 200) -> HTMLResponse:
        token = sessions.sign_in_token(request)
        response = page(request, "sign_in.html", status=status, csrf=token, message=message)
        sessions.keep_sign_in_token(request, response, token)
        return response

    @router.get("/sign-in", response_class=HTMLResponse)
    def sign_in_form(request: Request) -> HTMLResponse:
        return sign_in_page(request)

    @router.post("/sign-in")
    def sign_in(
        request: Request,
        key: Annotated[str, Form(max_length=400)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        try:
            sessions.check_sign_in_token(request, csrf)
        except BadForm as exc:
            return sign_in_page(request, str(exc), 400)
        response = RedirectResponse("/", status_code=303)
        try:
            found = sessions.sign_in(key, response, request)
        except SignInRequired as exc:
            return sign_in_page(request, str(exc), 401)
        response.headers["location"] = "/me" if found.role == "subject" else "/desk"
        return response

    @router.get("/sign-in/once/{token}", response_class=HTMLResponse)
    def one_time_form(request: Request, token: str) -> HTMLResponse:
        # A page with a button rather than a sign-in on GET, so that a link preview cannot spend it.
        sign_in_token = sessions.sign_in_token(request)
        response = page(request, "sign_in_once.html", token=token, csrf=sign_in_token)
        sessions.keep_sign_in_token(request, response, sign_in_token)
        return response

    @router.post("/sign-in/once/{token}")
    def one_time(request: Request, token: str, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        sessions.check_sign_in_token(request, csrf)
        response = RedirectResponse("/", status_code=303)
        found = sessions.redeem(token, response, request)
        response.headers["location"] = "/me" if found.role == "subject" else "/desk"
        return response

    @router.post("/sign-out")
    def sign_out(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        session = sessions.current(request)
        if session is not None:
            check_csrf(session, csrf)
        response = RedirectResponse("/", status_code=303)
        sessions.sign_out(response)
        return response

    @router.get("/me", response_class=HTMLResponse)
    def my_file(request: Request, number: Annotated[int, Query(alias="page", ge=0, le=100_000)] = 0) -> HTMLResponse:
        session = signed_in(request, "subject")
        assert session.key.subject is not None
        appeals.lapse_overdue()
        try:
            file = person_file(store, ledger, cache, session.key.subject, clock(), number)
        except NoRulebookInForce:
            return problem(request, 404, "No rulebook yet", "No rulebook is in force yet: nothing is scored.")
        return page(request, "me.html", file=file, csrf=session.csrf)

    @router.get("/me/records", response_class=HTMLResponse)
    def my_older_records(request: Request, page: Annotated[int, Query(ge=0, le=100_000)] = 1) -> Response:
        """A page of older records, for htmx to put in place of the "Show older records" link."""
        if "hx-request" not in request.headers:
            return RedirectResponse(f"/me?page={page}#records", status_code=303)
        session = signed_in(request, "subject")
        now = clock()
        cached = cache.get(session.key.subject or "", now)
        rulebook = cached.history.require(now)
        subject = session.key.subject or ""
        records, older = records_page(store, ledger, rulebook, subject, now, page, cached.explanation())
        html = env.get_template("records_part.html").render(records=records, page=page, older=older,
                                                            csrf=session.csrf)  # fmt: skip
        return HTMLResponse(html)

    @router.get("/me/export")
    def my_export(request: Request) -> Response:
        session = signed_in(request, "subject")
        body = whole_file(store, ledger, session.key.subject or "", clock())
        return JSONResponse(body, headers={"content-disposition": 'attachment; filename="my-credo-file.json"'})

    @router.post("/me/appeals")
    def file_appeal(
        request: Request,
        record: Annotated[str, Form(max_length=400)] = "",
        statement: Annotated[str, Form(max_length=5000)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        session = signed_in(request, "subject")
        check_csrf(session, csrf)
        if not statement.strip():
            raise BadForm("write a few words on why the record is wrong, then send the appeal again")
        appeals.file(session.key.subject or "", record, statement.strip())
        return RedirectResponse("/me#records", status_code=303)

    @router.get("/desk", response_class=HTMLResponse)
    def desk(request: Request) -> HTMLResponse:
        session = signed_in(request, "reviewer", "admin", "auditor")
        appeals.lapse_overdue()
        now = clock()
        history = ledger.history()
        tz = history.versions[-1].rulebook.tz if history else dt.UTC
        queue = store.waiting_appeals(micros(now), QUEUE_PAGE)
        rows = [
            {
                "id": a.id,
                "subject": a.subject,
                "filed": when(from_micros(a.filed_us), tz),
                "deadline": when(from_micros(a.deadline_us), tz),
                "overdue": from_micros(a.deadline_us) <= now,
                "lapsed": "lapsed" in a.events,
            }
            for a in queue.appeals
        ]
        rulebook = history.in_force(now) if history else None
        runs = store.population_runs()
        return page(
            request,
            "desk.html",
            appeals=rows,
            waiting=queue.total,
            overdue=queue.overdue,
            may_review=session.key.role == "reviewer",
            role=session.key.role,
            population=population_over_time(runs, rulebook) if rulebook and runs else [],
            received=received_per_day(store, now, tz),
        )

    @router.get("/desk/appeals/{appeal_id}", response_class=HTMLResponse)
    def review(request: Request, appeal_id: str) -> HTMLResponse:
        session = signed_in(request, "reviewer")
        found = appeals.find(appeal_id)
        record = store.record(position=found.record_position)
        history = ledger.history()
        tz = history.versions[-1].rulebook.tz if history else dt.UTC
        assert record is not None
        rulebook = history.require(clock())
        behaviour = rulebook.behaviours.get(record.behaviour)
        facts = {
            "id": record.id,
            "behaviour": record.behaviour.replace("_", " "),
            "description": behaviour.description if behaviour and behaviour.description else "",
            "at": when(from_micros(record.at_us), tz),
            "source": record.source,
            "evidence": record.evidence or "",
            "subject": record.subject,
            "statement": found.statement,
            "filed": when(from_micros(found.filed_us), tz),
            "deadline": when(from_micros(found.deadline_us), tz),
            "outcome": found.outcome,
        }
        return page(request, "review.html", appeal_id=appeal_id, facts=facts, csrf=session.csrf)

    @router.post("/desk/appeals/{appeal_id}")
    def resolve(
        request: Request,
        appeal_id: str,
        outcome: Annotated[str, Form(max_length=20)] = "",
        reason: Annotated[str, Form(max_length=5000)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        session = signed_in(request, "reviewer")
        check_csrf(session, csrf)
        if outcome not in ("uphold", "reverse"):
            raise BadForm("choose whether the record stands (uphold) or is withdrawn (reverse)")
        if not reason.strip():
            raise BadForm("write the reason the person will read, then send the decision again")
        appeals.resolve(appeal_id, outcome, reason.strip(), f"reviewer {session.key.key_hash[:12]}")
        return RedirectResponse("/desk", status_code=303)

    @router.get("/desk/decisions", response_class=HTMLResponse)
    def decision_log(request: Request) -> HTMLResponse:
        session = signed_in(request, "auditor", "admin")
        tz = zone_now()
        rows = [
            {"id": d.id, "subject": d.subject, "action": d.action.replace("_", " "),
             "at": when(from_micros(d.at_us), tz), "decided": when(from_micros(d.decided_us), tz),
             "answer": {"deny": "refused", "allow": "allowed"}.get(str(d.answer.get("decision")), "?")}
            for d in store.recent_decisions(100)
        ]  # fmt: skip
        return page(request, "decisions.html", decisions=rows, may_replay=session.key.role == "auditor")

    @router.get("/desk/decisions/{decision_id}", response_class=HTMLResponse)
    def replayed(request: Request, decision_id: str) -> HTMLResponse:
        signed_in(request, "auditor")
        try:
            result = replay(store, decision_id)
        except UnknownDecision:
            return problem(
                request, 404, "No such decision", "No decision with that id is in the log.", "/desk/decisions"
            )
        return page(
            request,
            "replay.html",
            decision_id=decision_id,
            same=result.same,
            logged=result.logged,
            recomputed=result.recomputed,
        )

    @router.get("/desk/chain", response_class=HTMLResponse)
    def chain(request: Request) -> HTMLResponse:
        signed_in(request, "auditor", "admin")
        report = store.verify(whole=True)
        return page(request, "chain.html", report=report)

    def zone_now() -> dt.tzinfo:
        history = ledger.history()
        return history.versions[-1].rulebook.tz if history else dt.UTC

    add_key_pages(router, store, ledger, clock, page, signed_in)
    app.state.sessions = sessions  # `credo demo` makes one-time sign-in links with it
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(PageHeaders)

    def is_page(request: Request) -> bool:
        path = request.url.path
        return path == "/" or (path.startswith(PAGE_PREFIXES) and not path.startswith("/static"))

    # Errors on pages are pages; under /v1 they keep the API's JSON shape (service/errors.py).
    previous: dict[Any, Any] = dict(app.exception_handlers)

    async def on_page_error(request: Request, exc: Exception) -> Response:
        if is_page(request):
            if isinstance(exc, SignInRequired):
                return problem(request, 401, "Please sign in", str(exc), "/sign-in")
            if isinstance(exc, PermissionError):
                return problem(request, 403, "Not for this key", str(exc), "/")
            if isinstance(exc, BadForm):
                return problem(request, 400, "Please try again", str(exc), request.headers.get("referer", "/"))
            if isinstance(exc, ApiError):
                return problem(request, exc.status, "That did not work", exc.message, "/")
            if isinstance(exc, NotFound):
                return problem(request, 404, "Not found", str(exc), "/")
            if isinstance(exc, Conflict):
                return problem(request, 409, "That was done already", str(exc), request.headers.get("referer", "/"))
            if isinstance(exc, CredoError):
                return problem(request, 422, "That did not work", str(exc), "/")
            return problem(request, 500, "Something went wrong", "The error was logged; please try again later.")
        for kind in type(exc).__mro__:
            if kind in previous:
                result: Response = await previous[kind](request, exc)
                return result
        raise exc

    for kind in (SignInRequired, PermissionError, BadForm, ApiError, CredoError, Exception):
        app.add_exception_handler(kind, on_page_error)
