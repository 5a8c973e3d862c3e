"""Sign-in for the pages: a key is exchanged once for a signed session cookie that carries no key.

The cookie holds the key's hash (the store's own id for the key, not the key) and a CSRF token,
signed and time-stamped with itsdangerous; it is HttpOnly, SameSite=Lax, and Secure behind HTTPS.
Every form posts the token back, and a post whose token is not the session's is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from credo.errors import CredoError
from credo.service.auth import KeyRing
from credo.storage.logs import StoredKey

COOKIE = "credo_session"
PRE_COOKIE = "credo_signin"  # the CSRF token of the sign-in form, before there is a session
MAX_AGE = 8 * 3600  # seconds: a working day


class SignInRequired(CredoError, PermissionError):
    """The page needs a signed-in key (none, expired or signed out)."""


class BadForm(CredoError, ValueError):
    """A form that cannot be taken as sent (stale CSRF token, empty field): the page says what to do."""


@dataclass(frozen=True)
class Session:
    key: StoredKey
    csrf: str


class Sessions:
    """Signs and reads session cookies; `sign_in` is the one place a deployment's identity
    provider would be put in front of."""

    def __init__(self, keyring: KeyRing, secret: str | None = None, max_age: int = MAX_AGE) -> None:
        self.keyring = keyring
        self.max_age = max_age
        self.signer = URLSafeTimedSerializer(secret or secrets.token_urlsafe(32), salt="credo-session")

    def sign_in(self, key_text: str, response: Response, request: Request) -> StoredKey:
        """Check a key and open a session for it; raises SignInRequired for an unknown key."""
        found = self.keyring.find(key_text.strip()) if key_text.strip() else None
        if found is None:
            raise SignInRequired("that key is not known here: check it and try again")
        token = secrets.token_urlsafe(24)
        cookie = self.signer.dumps({"k": found.key_hash, "c": token})
        response.set_cookie(COOKIE, cookie, max_age=self.max_age, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")  # fmt: skip
        response.delete_cookie(PRE_COOKIE, path="/")
        return found

    def current(self, request: Request) -> Session | None:
        """The signed-in session, or None when there is none, it expired or its key is gone."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            data = self.signer.loads(cookie, max_age=self.max_age)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("k"), str) or not isinstance(data.get("c"), str):
            return None
        key = self.keyring.by_hash(data["k"])
        return None if key is None else Session(key, data["c"])

    def require(self, request: Request) -> Session:
        found = self.current(request)
        if found is None:
            raise SignInRequired("please sign in with your key (sessions end after 8 hours)")
        return found

    @staticmethod
    def sign_out(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")

    # CSRF for the sign-in form itself: a token in a short-lived cookie and in the form.

    @staticmethod
    def sign_in_token(request: Request) -> str:
        return request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)

    @staticmethod
    def keep_sign_in_token(request: Request, response: Response, token: str) -> None:
        response.set_cookie(PRE_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")  # fmt: skip

    @staticmethod
    def check_sign_in_token(request: Request, sent: str) -> None:
        expected = request.cookies.get(PRE_COOKIE)
        if not expected or not secrets.compare_digest(expected, sent):
            raise BadForm("the sign-in form had expired; it has been renewed, please send it again")


def check_csrf(session: Session, sent: str) -> None:
    """Refuse a post whose CSRF token is not the session's."""
    if not secrets.compare_digest(session.csrf, sent or ""):
        raise BadForm("this form had expired; it has been renewed, please send it again")
