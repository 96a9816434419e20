"""What an instance behind the team gateway adds: keys per person, its health, shared state.

- `admit`: with `responses_client_keys` set, the request hook asks here first who is calling
  (request/client_keys.py); a request without a listed key is answered 401 at once.
- `health`: the facts `GET /_chat2responses/health` is judged on (call/health.py).
- shared state: with `responses_state_url` set, the reasoning cache and the memory tell Redis
  what they keep (transports/shared_state.py), and each call pulls what it lacks first.
- `count`: each rewritten call, under its person's name, for the status.

Rule 1: with the Codex login (`responses_auth=codex`) a person's key is taken off the request
        once read: it reaches neither the upstream (a request passed through included) nor the
        flow; with the client's own credentials (`client`) it is their upstream key and goes on.
Rule 2: the keys file is read when the option is set (a bad one is refused) and re-read when
        it changes (transports/client_keys_file.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from mitmproxy import http

from chat2responses.call.health import HealthFacts, verdict
from chat2responses.call.job import CallJob
from chat2responses.call.plan import CallState
from chat2responses.call.record import usage_of
from chat2responses.call.shared import NO_BACKING, Backing
from chat2responses.glue.flows import refuse
from chat2responses.glue.status import status_text
from chat2responses.protocol.errors import ClientError
from chat2responses.settings import AuthMode, Settings
from chat2responses.transports.client_keys_file import KeysFile
from chat2responses.transports.driver import Driver
from chat2responses.transports.login_refresh import CodexLogin
from chat2responses.transports.loop_watch import LoopWatch
from chat2responses.upstream.login import is_expired

if TYPE_CHECKING:
    from chat2responses.transports.shared_state import SharedState

_KEY_HEADERS = ("authorization", "api-key", "x-api-key")


class Team:
    def __init__(self, state: CallState, driver: Driver) -> None:
        self.state = state
        self.driver = driver
        self.keys: KeysFile | None = None
        self.watch = LoopWatch()
        self.shared: SharedState | None = None
        self._state_url = ""
        self._closing: set[asyncio.Task[None]] = set()

    # ---- options and lifecycle --------------------------------------------------------------

    def configure(self, settings: Settings) -> None:
        """Rule 2, and shared state started or stopped as `responses_state_url` says."""
        wanted = settings.client_keys
        if not wanted:
            self.keys = None
        elif self.keys is None or str(self.keys.path) != _expand(wanted):
            self.keys = KeysFile(wanted)  # ValueError: the option is refused
        if settings.state_url != self._state_url:
            self._state_url = settings.state_url
            if self.driver.started:
                self._restart_shared()

    def running(self) -> None:
        self.watch.start()
        self._restart_shared()

    def stop(self) -> None:
        self.watch.stop()
        self._stop_shared()

    def _restart_shared(self) -> None:
        self._stop_shared()
        if self._state_url:
            # Only now: redis-py takes a second to import, which no instance without shared
            # state should pay at start.
            from chat2responses.transports.shared_state import SharedState  # noqa: PLC0415

            state = self.state
            self.shared = SharedState(self._state_url, memory=lambda: state.memory)
            self.shared.start()
            self.driver.prepare = self.shared.prepare
        self._back(self.shared or NO_BACKING)

    def _stop_shared(self) -> None:
        shared, self.shared = self.shared, None
        self.driver.prepare = None
        self._back(NO_BACKING)
        if shared is not None:
            with contextlib.suppress(RuntimeError):  # no loop any more: the process is ending
                task = asyncio.get_running_loop().create_task(shared.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

    def _back(self, backing: Backing) -> None:
        self.state.memory.backing = backing
        self.state.reasoning.backing = backing

    @property
    def backing(self) -> Backing:
        """What a new Memory is to be backed by (the glue replaces it when the upstream
        changes)."""
        return self.shared or NO_BACKING

    # ---- per request ------------------------------------------------------------------------

    def admit(self, flow: http.HTTPFlow, settings: Settings) -> str | None:
        """Who is calling: their name, "" when no keys file is set, None when the request was
        refused (answered 401)."""
        if self.keys is None:
            return ""
        try:
            person = self.keys.current().person(flow.request.headers.fields)
        except ClientError as err:
            for name in _KEY_HEADERS:  # rule 1: a refused key is kept nowhere either
                flow.request.headers.pop(name, None)
            refuse(flow, err)
            return None
        if settings.auth is AuthMode.CODEX:  # rule 1
            for name in _KEY_HEADERS:
                flow.request.headers.pop(name, None)
        return person

    def count(self, job: CallJob, status: int | None) -> None:
        if job.person:
            tokens = usage_of(job.outcome.usage)
            self.state.people.count(job.person, ok=status == 200, tokens=tokens)

    def status(self) -> str:
        """The `chat2responses.status` text (glue/status.py)."""
        state, shared = self.state, self.shared
        return status_text(
            state.quota, state.memory, state.people, shared.status if shared is not None else ""
        )

    # ---- health -----------------------------------------------------------------------------

    def health(self, settings: Settings, login: CodexLogin | None) -> tuple[int, dict[str, Any]]:
        facts = HealthFacts(
            loop_lag=self.watch.lag(),
            driver_serving=self.driver.started,
            stopping=self.driver.stopping,
            login=_login_problem(login) if settings.auth is AuthMode.CODEX else None,
            shared_state=self.shared.status if self.shared is not None else "off",
        )
        return verdict(facts)


def _login_problem(login: CodexLogin | None) -> str | None:
    """What keeps the Codex login from being used, in words that name no path or token."""
    if login is None:
        return "none is configured"
    try:
        creds = login.file.credentials()
    except ClientError:
        return "the login file is missing or unreadable"
    if is_expired(creds, time.time()) and creds.refresh_token is None:
        return "its access token expired and it holds no refresh token"
    return None


def _expand(path: str) -> str:
    return str(KeysFile.expand(path))
