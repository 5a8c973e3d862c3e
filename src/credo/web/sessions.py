"""Sign-in for the pages: a key is exchanged once for a signed session cookie that carries no key.

The cookie holds the key's hash (the store's own id for the key, not the key) and a CSRF token,
signed and time-stamped with itsdangerous; it is HttpOnly, SameSite=Lax, and Secure behind HTTPS.
Every form posts the token back, and a post whose token is not the session's is refused.
"""

from __future__ import annotations

import secrets
import threading
import time
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
        self._links: dict[str, tuple[str, float]] = {}  # one-time link token -> (key hash, expiry)
        self._links_lock = threading.Lock()

    def one_time_link(self, key_hash: str, lifetime: float = 3600.0) -> str:
        """A token for a sign-in link that works once, within `lifetime` seconds, and is not the key
        (kept in this process's memory only: a restart voids every link)."""
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._links_lock:
            for stale in [made for made, (_, expires) in self._links.items() if expires <= now]:
                del self._links[stale]  # links never used are not kept for ever
            self._links[token] = (key_hash, now + lifetime)
        return token

    def redeem(self, token: str, response: Response, request: Request) -> StoredKey:
        """Spend a one-time link: a session for its key, or SignInRequired when it is spent or stale."""
        with self._links_lock:
            hashed, expires = self._links.pop(token, ("", 0.0))
        key = self.keyring.by_hash(hashed) if hashed and time.monotonic() < expires else None
        if key is None:
            raise SignInRequired("this sign-in link was used already or has expired; sign in with your key")
        self._open(key, response, request)
        return key

    def sign_in(self, key_text: str, response: Response, request: Request) -> StoredKey:
        """Check a key and open a session for it; raises SignInRequired for an unknown key."""
        found = self.keyring.find(key_text.strip()) if key_text.strip() else None
        if found is None:
            raise SignInRequired("that key is not known here: check it and try again")
        refused = self.keyring.refusal(found)
        if refused is not None:
            raise SignInRequired(f"{refused}: sign in with another key")
        self._open(found, response, request)
        return found

    def _open(self, key: StoredKey, response: Response, request: Request) -> None:
        cookie = self.signer.dumps({"k": key.key_hash, "c": secrets.token_urlsafe(24)})
        response.set_cookie(COOKIE, cookie, max_age=self.max_age, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")  # fmt: skip
        response.delete_cookie(PRE_COOKIE, path="/")

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
        if key is None or self.keyring.refusal(key) is not None:  # revoked or expired since sign-in
            return None
        return Session(key, data["c"])

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
