"""Portal user login: local accounts (user name + argon2 password) and OIDC through Authlib's Starlette client.

Routes (mount with :data:`routes` and :func:`middleware`):

* ``GET /login`` a minimal form; ``POST /login`` takes that form or JSON ``{"username", "password"}``.
* ``GET /login/oidc`` redirects to the configured issuer (``LOOM_OIDC_*``; authorization code flow with PKCE);
  ``GET /login/oidc/callback`` checks the ID token (signature, ``iss``, ``aud``, nonce, expiry), then finds the
  user by the token's ``sub`` or creates one with no role (a consumer), and logs them in.
* ``GET /`` (:func:`home`, mounted by ``loom serve`` until the web UI takes ``/``) says who is signed in and links
  the admin API; ``POST /logout`` ends the session; ``GET /api/me`` says who the caller is (session or bearer token).

The cookie is Starlette's ``SessionMiddleware``, signed with the installation's secret key
(:meth:`~portal.settings.Settings.resolved_secret_key`). Once signed in it holds only the id of a server-side
session (:mod:`portal.login_sessions`), which logout, a password change or a deactivation ends; during an OIDC
login it also holds Authlib's state and nonce. The routes read ``request.app.state.engine`` and
``request.app.state.settings``.

``POST /login`` bodies are capped (:data:`LOGIN_BODY_LIMIT`, by :mod:`portal.app`), passwords over
:data:`~portal.accounts.MAX_PASSWORD_BYTES` are refused unhashed, attempts are counted before the password is
checked (:mod:`portal.lockout`), and checks queue at the app's argon2 gate (:mod:`portal._password_gate`).
"""

from __future__ import annotations

import html
import ipaddress
import json
import math
import re
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from portal import login_sessions
from portal._password_gate import Busy, gate_of
from portal.accounts import MAX_PASSWORD_BYTES, authenticate_password, is_reserved_user_name, is_too_long
from portal.audit import audit_scope, record, record_denied
from portal.authentication import SESSION_KEY, request_actor
from portal.authorization import Actor
from portal.db import session_scope, writer
from portal.errors import ErrorCode, Invalid, LoomError, Unauthenticated
from portal.lockout import Lockout, LoginLimiter, LoginLimits
from portal.models import User, utcnow
from portal.settings import Mode, Settings

__all__ = [
    "GUARDED_PATHS",
    "LOGIN_BODY_LIMIT",
    "SESSION_COOKIE",
    "CrossSiteGuard",
    "home",
    "middleware",
    "oidc_user",
    "routes",
]

SESSION_COOKIE = "loom_session"
LOGIN_BODY_LIMIT = 16 * 1024
"""Bytes a ``POST /login`` body may have: a name, a password of at most 1024 bytes (x3 when form-encoded), a path."""
_OIDC_NAME = "oidc"
_NAME_CHARS = re.compile(r"[^a-z0-9._-]+")


def middleware(settings: Settings) -> list[Middleware]:
    """The session middleware the login routes need, and the cross-site guard in front of the routes that act
    with that session (add both to the portal app)."""
    return [
        Middleware(CrossSiteGuard, public_url=settings.public_url),
        Middleware(SessionCookie, settings=settings),
    ]


class SessionCookie:
    """Starlette's ``SessionMiddleware``, keyed with the installation's secret key once it is first needed (the
    generated key is a file in the data directory: nothing is read while the app is merely built). Each request
    starts with no current login session (:data:`portal.login_sessions.current`) and leaves none behind."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._inner: SessionMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._inner is None:
            settings = self.settings
            self._inner = SessionMiddleware(
                self.app,
                secret_key=settings.resolved_secret_key(),
                session_cookie=SESSION_COOKIE,
                max_age=settings.auth.session_max_age_seconds,
                same_site="lax",  # the OIDC callback is a top-level GET from the provider: "strict" drops the cookie
                # Secure outside development even when the portal itself speaks plain HTTP: production is behind TLS.
                https_only=settings.public_url.startswith("https://") or settings.mode is not Mode.DEVELOPMENT,
            )
        reset = login_sessions.current.set(None)
        try:
            await self._inner(scope, receive, send)
        finally:
            login_sessions.current.reset(reset)


# The portal's routes that change state with the session cookie (or start a session: a forged login signs the
# victim in as the attacker). The embedded gateway's /products ignore the cookie and serve other origins.
GUARDED_PATHS = frozenset({"/login", "/logout", "/api/graphql"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSiteGuard:
    """Refuses a state-changing request to :data:`GUARDED_PATHS` that a browser sent from another site (CSRF).

    Browsers say where a request comes from: ``Sec-Fetch-Site`` (only ``same-origin`` and ``none``, i.e. typed
    or bookmarked, pass) or, from older browsers, ``Origin`` (must be this portal: its ``public_url`` or the
    ``Host`` it was reached at). A request with neither is not from a browser (the CLI, curl, scripts) and passes:
    there is no victim's browser to forge it with. SameSite=Lax on the cookie is the second line: a sibling
    subdomain is "same-site" to the browser, so the cookie alone does not stop it.
    """

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        parts = urlsplit(public_url)
        self.public_origin = f"{parts.scheme}://{parts.netloc}".lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _SAFE_METHODS and scope["path"] in GUARDED_PATHS:
            reason = self.refusal(Headers(scope=scope))
            if reason is not None:
                response = JSONResponse(
                    {"error": {"code": ErrorCode.FORBIDDEN.value, "message": reason}}, status_code=403
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, headers: Headers) -> str | None:
        """Why a request with these headers is refused as cross-site, or None."""
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            if fetch_site in ("same-origin", "none"):
                return None
            return (
                f"cross-site request refused (Sec-Fetch-Site: {fetch_site}): sign in and act from the portal's "
                "own pages, or call the API with a personal access token"
            )
        origin = headers.get("origin")
        if origin is None:
            return None
        origin = origin.lower()
        host = headers.get("host", "").lower()
        if origin == self.public_origin or (host and urlsplit(origin).netloc == host):
            return None
        return (
            f"cross-site request refused (Origin: {origin}): sign in and act from the portal's own pages, or call "
            "the API with a personal access token"
        )


def _state(request: Request) -> tuple[Engine, Settings]:
    return request.app.state.engine, request.app.state.settings


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("content-type", "") or "application/json" in request.headers.get(
        "accept", ""
    )


def _error(request: Request, exc: LoomError, status: int) -> Response:
    if _wants_json(request) or request.url.path != "/login":
        return JSONResponse({"error": {"code": exc.code.value, "message": exc.message}}, status_code=status)
    return HTMLResponse(_login_page(request, error=exc.message), status_code=status)


def _safe_next(target: str | None) -> str:
    """Redirect only to a path on this site, never to another host (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# --- local accounts ----------------------------------------------------------------------------------------------


# The sign-in page looks like the web UI (its colours, system fonts, nothing fetched); the portal's CSP allows
# inline styles and no inline script, and the page needs none: it works without JavaScript.
_LOGIN_STYLE = """
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --paper: #fff; --wash: #f6f8fa; --accent: #0a5bc4;
  --danger: #b42318; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--wash); line-height: 1.45; }
body { margin: 0; }
.top { padding: 0.6rem 1.25rem; background: #0d1b2a; color: #fff; font-weight: 700; letter-spacing: 0.04em; }
main { max-width: 24rem; margin: 3rem auto; padding: 1.5rem; background: var(--paper); border: 1px solid var(--line);
  border-radius: 8px; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; }
form { display: grid; gap: 0.75rem; }
label { display: flex; flex-direction: column; gap: 0.25rem; font-weight: 600; }
input { font: inherit; padding: 0.45rem 0.5rem; border: 1px solid #8c959f; border-radius: 6px; }
button, .button { font: inherit; padding: 0.5rem 0.9rem; border-radius: 6px; border: 1px solid var(--accent);
  cursor: pointer; text-align: center; text-decoration: none; display: block; }
button { background: var(--accent); color: #fff; }
.button { background: var(--paper); color: var(--accent); font-weight: 600; }
button:focus-visible, .button:focus-visible, input:focus-visible { outline: 3px solid #7aa7e8; outline-offset: 1px; }
.or { display: flex; align-items: center; gap: 0.75rem; color: var(--muted); margin: 1.25rem 0; }
.or::before, .or::after { content: ""; flex: 1; border-top: 1px solid var(--line); }
[role=alert] { color: var(--danger); background: #fff1f0; border: 1px solid #f3b8b3; border-radius: 6px;
  padding: 0.5rem 0.75rem; margin: 0 0 1rem; }
"""


def _login_page(request: Request, *, error: str | None = None) -> str:
    settings: Settings = request.app.state.settings
    message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    next_value = html.escape(_safe_next(request.query_params.get("next")), quote=True)
    sso = ""
    if settings.oidc.issuer:
        # the provider brings the person back to /login/oidc/callback, which lands where they were going
        target = html.escape(urlencode({"next": _safe_next(request.query_params.get("next"))}), quote=True)
        sso = f'<p class="or">or</p><a class="button" href="/login/oidc?{target}">Sign in with single sign-on</a>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Loom: log in</title>'
        f"<style>{_LOGIN_STYLE}</style></head><body>"
        '<header class="top"><span>Loom</span></header><main><h1>Log in to Loom</h1>'
        f'{message}<form method="post" action="/login"><input type="hidden" name="next" value="{next_value}">'
        '<label>User name <input name="username" autocomplete="username" required></label> '
        '<label>Password <input name="password" type="password" autocomplete="current-password" required></label> '
        f'<button type="submit">Log in</button></form>{sso}</main></body></html>'
    )


async def login_page(request: Request) -> Response:
    return HTMLResponse(_login_page(request))


def _password_login(engine: Engine, settings: Settings, username: str, password: str, ended: object) -> str:
    """Check the password and start a session (ending the one the browser came with): the new session's id."""
    with session_scope(writer(engine)) as session:
        user = authenticate_password(session, username, password)
        record(session, _user_actor(user), "user.login", "user", user.name, {"method": "password"})
        return _new_session(session, settings, user, ended)


def _new_session(session: Session, settings: Settings, user: User, ended: object) -> str:
    login_sessions.end(session, ended)  # a new login replaces the browser's previous session, whoever's it was
    return login_sessions.start(session, user, max_age_seconds=settings.auth.session_max_age_seconds).token


def _user_actor(user: User) -> Actor:
    return Actor(user_id=user.id, name=user.name)


def login_limiter(settings: Settings) -> LoginLimiter:
    """The app's limiter of failed logins (made once, when the app is built)."""
    auth = settings.auth
    return LoginLimiter(
        LoginLimits(
            max_failures_per_account=auth.login_max_failures_per_account,
            max_failures_per_address=auth.login_max_failures_per_address,
            window_seconds=auth.login_lockout_seconds,
            lockout_seconds=auth.login_lockout_seconds,
        )
    )


def _limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


def _record_lockouts(engine: Engine, account: str, address: str, lockouts: list[Lockout]) -> None:
    """One audit event per lock that started (failures themselves are not recorded: no flood of the log)."""
    with audit_scope(via="ui"), session_scope(engine) as session:
        for lock in lockouts:
            record_denied(
                session,
                Actor.anonymous(),
                "user.login.lockout",
                "user" if lock.scope == "account" else "address",
                lock.key,
                {"account": LoginLimiter.account_key(account), "address": address, "failures": lock.failures},
                reason=f"{lock.failures} failed logins: {lock.scope} locked for {lock.seconds:.0f} s",
            )


def _locked(request: Request, seconds: float) -> Response:
    wait = max(1, math.ceil(seconds))
    message = f"too many failed logins for this account or address: try again in {wait} seconds"
    headers = {"retry-after": str(wait)}
    if _wants_json(request):
        return JSONResponse({"error": {"code": "RATE_LIMITED", "message": message}}, status_code=429, headers=headers)
    return HTMLResponse(_login_page(request, error=message), status_code=429, headers=headers)


def _busy(request: Request, exc: Busy) -> Response:
    headers = {"retry-after": "1"}
    if _wants_json(request):
        return JSONResponse({"error": {"code": "BUSY", "message": exc.message}}, status_code=503, headers=headers)
    return HTMLResponse(_login_page(request, error=exc.message), status_code=503, headers=headers)


async def login(request: Request) -> Response:
    engine, settings = _state(request)
    limiter = _limiter(request)
    address = request.client.host if request.client is not None else "unknown"
    next_path = "/"
    try:
        if "application/json" in request.headers.get("content-type", ""):
            try:
                body = json.loads(await request.body())
            except ValueError as exc:
                raise Invalid('the body is not valid JSON: send {"username": ..., "password": ...}') from exc
            except RecursionError as exc:  # the parser's limit on nesting: the caller's input, not our failure
                raise Invalid('the body nests too deeply: send {"username": ..., "password": ...}') from exc
            if not isinstance(body, dict):
                raise Invalid('send a JSON object: {"username": ..., "password": ...}')
            username, password = body.get("username"), body.get("password")
        else:
            form = await request.form()
            username, password = form.get("username"), form.get("password")
            next_path = _safe_next(str(form.get("next") or "/"))
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            raise Invalid("both username and password are required")
        if is_too_long(password):  # refused unhashed: argon2 would read all of it
            raise Invalid(
                f"the password is over {MAX_PASSWORD_BYTES} bytes: no Loom password is longer; check what is sent"
            )
    except Invalid as exc:
        return _error(request, exc, 400)
    # Counted before the check: concurrent guesses cannot all pass a limit they are only counted against later.
    wait = limiter.begin(username, address)
    if wait is not None:  # refused before the password is checked: a lockout must not tell a right one apart
        return _locked(request, wait)
    try:
        async with gate_of(request).slot():
            token = await run_in_threadpool(
                _password_login, engine, settings, username, password, request.session.get(SESSION_KEY)
            )
    except Unauthenticated as exc:
        lockouts = limiter.failed(username, address)
        if lockouts:
            await run_in_threadpool(_record_lockouts, engine, username, address, lockouts)
        return _error(request, exc, 401)
    except Busy as exc:
        limiter.cancel(username, address)
        return _busy(request, exc)
    except BaseException:
        limiter.cancel(username, address)
        raise
    limiter.succeeded(username, address)
    _start_session(request, token)
    if _wants_json(request):
        return JSONResponse({"user": username})
    return RedirectResponse(next_path, status_code=303)


def _start_session(request: Request, token: str) -> None:
    # A fresh cookie on login: nothing from before (e.g. a planted value) survives into the logged-in session.
    request.session.clear()
    request.session[SESSION_KEY] = token


def _end_session(engine: Engine, token: object) -> None:
    with session_scope(writer(engine)) as session:
        login_sessions.end(session, token)


async def logout(request: Request) -> Response:
    """Ends the session server-side: the cookie, replayed, no longer signs anybody in."""
    token = request.session.get(SESSION_KEY)
    if token is not None:
        await run_in_threadpool(_end_session, request.app.state.engine, token)
    request.session.clear()
    if _wants_json(request):
        return JSONResponse({"logged_out": True})
    return RedirectResponse("/login", status_code=303)


async def me(request: Request) -> Response:
    try:
        actor = await request_actor(request)
    except Unauthenticated as exc:
        return _error(request, exc, 401)
    if not actor.is_authenticated:
        return _error(request, Unauthenticated("not logged in: log in or pass a personal access token"), 401)
    return JSONResponse(
        {
            "name": actor.name,
            "platformAdmin": actor.platform_admin,
            "readOnly": actor.read_only,
            "teams": {team: role.value for team, role in sorted(actor.team_roles.items())},
        }
    )


async def home(request: Request) -> Response:
    """Where a login lands (``/``) until the web UI serves it: who is signed in and where to go next. Without a
    session, the login form."""
    try:
        actor = await request_actor(request)
    except Unauthenticated:
        actor = Actor.anonymous()
    if not actor.is_authenticated:
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse(
        "<!doctype html><html><head><title>Loom</title></head><body><h1>Loom</h1>"
        f"<p>Signed in as <strong>{html.escape(actor.name)}</strong>.</p><ul>"
        '<li><a href="/api/graphql">Admin API</a> (GraphiQL): teams, services, products, applications, keys and '
        "subscriptions</li>"
        "<li>Each published product: GraphiQL at <code>/products/&lt;name&gt;/graphql</code>, its REST routes "
        "under <code>/products/&lt;name&gt;/rest/</code>, described by <code>/products/&lt;name&gt;/openapi.json"
        "</code></li></ul>"
        '<form method="post" action="/logout"><button type="submit">Log out</button></form></body></html>'
    )


# --- OIDC --------------------------------------------------------------------------------------------------------


def _check_issuer(settings: Settings) -> str:
    issuer = settings.oidc.issuer
    if not issuer or not settings.oidc.client_id:
        raise Invalid("OIDC login is not configured: set LOOM_OIDC_ISSUER and LOOM_OIDC_CLIENT_ID")
    parts = urlsplit(issuer)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if (parts.scheme != "https" or loopback) and not settings.oidc.allow_insecure_issuer:
        raise Invalid(
            f"the OIDC issuer {issuer} is not an https URL of another host; use https, or set "
            "LOOM_OIDC_ALLOW_INSECURE_ISSUER=1 for a local test provider (development mode only)"
        )
    return issuer.rstrip("/")


def _oidc_client(request: Request) -> Any:
    """Authlib's client for the configured issuer, created once per app (it caches discovery and JWKS)."""
    settings: Settings = request.app.state.settings
    oauth: OAuth | None = getattr(request.app.state, "oidc_oauth", None)
    if oauth is None:
        issuer = _check_issuer(settings)
        secret = settings.oidc.client_secret.get_secret_value() if settings.oidc.client_secret else None
        oauth = OAuth()
        oauth.register(
            _OIDC_NAME,
            client_id=settings.oidc.client_id,
            client_secret=secret,
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": settings.oidc.scope, "code_challenge_method": "S256"},
        )
        request.app.state.oidc_oauth = oauth
    return oauth.create_client(_OIDC_NAME)


def _callback_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    if settings.server.public_url:
        return f"{settings.server.public_url.rstrip('/')}/login/oidc/callback"
    return str(request.url_for("oidc_callback"))


_OIDC_NEXT = "loom_oidc_next"  # the session key that carries ?next= across the provider's round trip


async def oidc_login(request: Request) -> Response:
    try:
        client = _oidc_client(request)
        metadata = await client.load_server_metadata()
        expected = _check_issuer(request.app.state.settings)
        if str(metadata.get("issuer", "")).rstrip("/") != expected:
            raise Invalid(
                f"the OIDC provider calls itself {metadata.get('issuer')!r}, not {expected!r}; fix the issuer"
            )
        previous = request.session.pop(SESSION_KEY, None)
        if previous is not None:  # signing in again, perhaps as someone else: the old session ends here
            await run_in_threadpool(_end_session, request.app.state.engine, previous)
        request.session[_OIDC_NEXT] = _safe_next(request.query_params.get("next"))  # where the callback lands
        response: Response = await client.authorize_redirect(
            request, _callback_url(request), nonce=secrets.token_urlsafe(16)
        )
        return response
    except Invalid as exc:
        return _error(request, exc, 503)
    except (OAuthError, httpx.HTTPError, httpx2.HTTPError, ValueError) as exc:
        return _error(request, Invalid(f"the OIDC provider could not be reached or answered badly: {exc!r}"), 503)


async def oidc_callback(request: Request) -> Response:
    engine, settings = _state(request)
    try:
        client = _oidc_client(request)
        token = await client.authorize_access_token(request)
    except Invalid as exc:
        return _error(request, exc, 503)
    except OAuthError as exc:
        return _error(
            request, Unauthenticated(f"OIDC login failed ({exc.error}): {exc.description or 'start again'}"), 401
        )
    except (JoseError, ValueError) as exc:
        return _error(request, Unauthenticated(f"OIDC login failed: the ID token is not valid ({exc!r})"), 401)
    except (httpx.HTTPError, httpx2.HTTPError) as exc:
        return _error(request, Invalid(f"the OIDC provider could not be reached or answered badly: {exc!r}"), 503)
    claims = token.get("userinfo")
    if not claims or not claims.get("sub"):
        return _error(request, Unauthenticated("OIDC login failed: the provider sent no ID token with a subject"), 401)
    try:
        token = await run_in_threadpool(_oidc_login_user, engine, settings, dict(claims))
    except Unauthenticated as exc:
        return _error(request, exc, 401)
    landing = _safe_next(request.session.pop(_OIDC_NEXT, None))
    _start_session(request, token)
    return RedirectResponse(landing, status_code=303)


def _oidc_login_user(engine: Engine, settings: Settings, claims: dict[str, Any]) -> str:
    with session_scope(writer(engine)) as session:
        user = oidc_user(session, claims)
        record(session, _user_actor(user), "user.login", "user", user.name, {"method": "oidc"})
        return _new_session(session, settings, user, None)


def oidc_user(session: Session, claims: dict[str, Any]) -> User:
    """The user with ``oidc_subject == claims["sub"]``, updated from the claims; or a new user with no role.

    Users are linked by ``sub`` only, never by email: a provider's email claim is not proof of owning a local
    account. A new user's name comes from ``preferred_username`` (or the email's local part), made unique.
    Flushes, does not commit.
    """
    subject = str(claims["sub"])
    user = session.exec(select(User).where(col(User.oidc_subject) == subject)).first()
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    display = claims.get("name") if isinstance(claims.get("name"), str) else ""
    if user is None:
        user = User(name=_free_name(session, claims), oidc_subject=subject, email=email, display_name=display or "")
        session.add(user)
        session.flush()
        record(session, Actor.system("oidc"), "user.create", "user", user.name, {"via": "oidc", "email": email})
    elif not user.is_active:
        raise Unauthenticated(f"user {user.name!r} is deactivated; ask a platform admin")
    else:
        user.email = email or user.email
        user.display_name = display or user.display_name
    user.last_login_at = utcnow()
    session.add(user)
    session.flush()
    return user


def _free_name(session: Session, claims: dict[str, Any]) -> str:
    raw = claims.get("preferred_username") or str(claims.get("email") or "").split("@")[0] or "user"
    base = _NAME_CHARS.sub("-", str(raw).lower()).strip("-._")[:90] or "user"
    name, n = base, 1
    if is_reserved_user_name(base):  # e.g. 'oidc': the audit log's name for OIDC sign-ups, not a user's
        base = name = f"user-{base}"[:90]
    while session.exec(select(User).where(col(User.name) == name)).first() is not None:
        n += 1
        name = f"{base}-{n}"
    return name


routes: list[BaseRoute] = [
    Route("/login", login_page, methods=["GET"], name="login_page"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/login/oidc", oidc_login, methods=["GET"], name="oidc_login"),
    Route("/login/oidc/callback", oidc_callback, methods=["GET"], name="oidc_callback"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/api/me", me, methods=["GET"], name="me"),
]
