"""The operator page's HTTP side, served by the chat page's server (bot/web/server.py).

- Off (404) unless `TRUST_API_TOKEN` is set: the same token as Rasa's HTTP API, given as
  `?token=...`, `Authorization: Bearer ...` or through the sign-in form (which sets an HttpOnly,
  SameSite=Strict cookie holding a keyed hash of the token, never the token). Without it: 401
  and the sign-in form.
- `GET /operator?days=7|30|90`: the page (bot/operator/page.py); `/operator/figures.json` and
  `/operator/daily.csv`: the same figures as JSON and CSV.
- The review list shows message text only with `TRUST_REVIEW=1`; then `POST /operator/label`
  labels a row with an intent of the domain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qs

import sqlalchemy as sa
import yaml

from bot.credentials import bearer_token, same_secret
from bot.operator.figures import PERIODS, daily_csv, figures, review_rows, set_label
from bot.operator.page import login_page, render
from bot.paths import REPO_ROOT
from bot.safety.referral_log import referral_log_path

COOKIE = "trust_operator"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Intents the classifier never gives to a typed message, so not a label for one.
NOT_LABELS = {"crisis_check_in"}
Answer = tuple[int, bytes, str, str, dict[str, str]]


def label_intents(domain_file: Path = REPO_ROOT / "domain.yml") -> list[str]:
    """The domain's intents an operator can label a turn with."""
    intents = yaml.safe_load(domain_file.read_text(encoding="utf-8"))["intents"]
    names = [next(iter(i)) if isinstance(i, dict) else str(i) for i in intents]
    return sorted(n for n in names if n not in NOT_LABELS)


@dataclass
class OperatorPages:
    token: str
    engine: sa.engine.Engine
    referral_log: Path
    review: bool
    intents: list[str]

    def _session_value(self) -> str:
        return hmac.new(self.token.encode(), b"operator-page-session", hashlib.sha256).hexdigest()

    def _signed_in(self, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        given = [query.get("token", [""])[0], bearer_token(headers.get("Authorization"))]
        if any(same_secret(g, self.token) for g in given):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("Cookie") or "")
        except Exception:  # a malformed Cookie header is no session
            return False
        value = cookie[COOKIE].value if COOKIE in cookie else ""
        return same_secret(value, self._session_value())

    def _cookie(self) -> str:
        return f"{COOKIE}={self._session_value()}; Path=/operator; HttpOnly; SameSite=Strict"

    @staticmethod
    def _days(query: Mapping[str, list[str]]) -> int:
        try:
            days = int(query.get("days", ["30"])[0])
        except ValueError:
            return 30
        return days if days in PERIODS else 30

    @staticmethod
    def _html(status: int, page: str, headers: dict[str, str] | None = None) -> Answer:
        return (
            status,
            page.encode(),
            "text/html; charset=utf-8",
            "no-store",
            {"Content-Security-Policy": CONTENT_SECURITY_POLICY, **(headers or {})},
        )

    @staticmethod
    def _redirect(location: str, headers: dict[str, str] | None = None) -> Answer:
        return (
            HTTPStatus.SEE_OTHER,
            b"",
            "text/plain",
            "no-store",
            {"Location": location, "Content-Security-Policy": CONTENT_SECURITY_POLICY, **(headers or {})},
        )

    def answer(self, method: str, path: str, query_string: str, headers: Mapping[str, str], body: bytes) -> Answer:
        query = parse_qs(query_string)
        form = parse_qs(body.decode("utf-8", errors="replace")) if method == "POST" else {}
        if method == "POST" and path == "/operator/sign-in":
            token = form.get("token", [""])[0]
            if same_secret(token, self.token):
                return self._redirect("/operator", {"Set-Cookie": self._cookie()})
            return self._html(HTTPStatus.UNAUTHORIZED, login_page(failed=True))
        if not self._signed_in(query, headers):
            return self._html(HTTPStatus.UNAUTHORIZED, login_page(failed="token" in query), {"WWW-Authenticate": 'Bearer realm="operator"'})
        days = self._days(query)
        if method == "POST" and path == "/operator/label":
            return self._label(form)
        if method not in ("GET", "HEAD"):
            return HTTPStatus.METHOD_NOT_ALLOWED, b"not allowed", "text/plain", "no-store", {}
        if path == "/operator" and "token" in query:  # keep the token out of history and links
            return self._redirect(f"/operator?days={days}", {"Set-Cookie": self._cookie()})
        if path == "/operator":
            notice = "Label saved." if query.get("saved") else ""
            page = render(
                figures(self.engine, self.referral_log, days), review_rows(self.engine, self.review), self.review, self.intents, notice
            )
            return self._html(HTTPStatus.OK, page)
        if path == "/operator/figures.json":
            data = {
                "figures": figures(self.engine, self.referral_log, days),
                "review": review_rows(self.engine, self.review),
                "review_text": self.review,
            }
            return HTTPStatus.OK, json.dumps(data).encode(), "application/json", "no-store", {}
        if path == "/operator/daily.csv":
            csv = daily_csv(figures(self.engine, self.referral_log, days)).encode()
            return (
                HTTPStatus.OK,
                csv,
                "text/csv; charset=utf-8",
                "no-store",
                {"Content-Disposition": f'attachment; filename="trust-assistant-daily-{days}-days.csv"'},
            )
        return HTTPStatus.NOT_FOUND, b"not found", "text/plain", "no-store", {}

    def _label(self, form: Mapping[str, list[str]]) -> Answer:
        if not self.review:
            return HTTPStatus.FORBIDDEN, b"Review is off (TRUST_REVIEW=1 turns it on).", "text/plain", "no-store", {}
        intent = form.get("intent", [""])[0] or None
        try:
            turn = int(form.get("turn", [""])[0])
        except ValueError:
            return HTTPStatus.BAD_REQUEST, b"No such turn.", "text/plain", "no-store", {}
        if intent is not None and intent not in self.intents:
            return HTTPStatus.BAD_REQUEST, b"Not an intent of the domain.", "text/plain", "no-store", {}
        if not set_label(self.engine, turn, intent):
            return HTTPStatus.NOT_FOUND, b"No such turn on the review list.", "text/plain", "no-store", {}
        return self._redirect(f"/operator?days={self._days(form)}&saved=1#review-title")


def operator_pages_from_environment(endpoints_file: str) -> OperatorPages | None:
    """The operator pages when `TRUST_API_TOKEN` is set, on the tracker store of `endpoints_file`."""
    token = os.environ.get("TRUST_API_TOKEN")
    if not token:
        return None
    from bot.privacy import open_store  # imports Rasa's store: only when the page is on

    return OperatorPages(
        token=token,
        engine=open_store(endpoints_file).engine,
        referral_log=referral_log_path(),
        review=os.environ.get("TRUST_REVIEW") == "1",
        intents=label_intents(),
    )
