"""Notifications through Apprise: one URL scheme for Slack, e-mail, ntfy, webhooks, …

``notify_urls`` picks the targets (``CUTOVER_NOTIFY`` first, else the runbook's ``notify``);
``Notifier.send`` delivers one message to all of them and says how it went as a ``Delivery``.
It never raises: a notification that cannot go out is a fact to record, not a reason to stop
the watch.

- Apprise blocks (requests underneath), so each attempt runs in a thread
  (``asyncio.to_thread``) bounded by ``timeout``, and Apprise is given the same deadline so
  its thread ends too.
- A failed attempt is retried after the next ``backoff`` delay (the last repeats), only to the
  targets that failed: a target that got the message does not get it twice.
- Targets are shown in Apprise's privacy form without the query (where headers and payload
  mappings may carry tokens), so a Delivery can be written to the checklist as it is.
- Under the loopback switch (``CUTOVER_LOOPBACK_ONLY``), every URL must be a self-addressed
  scheme (a webhook, ntfy, Gotify, an Apprise server: the host in the URL is where the message
  goes) on a loopback host, or nothing is sent at all. Redirects are not followed then, so a
  loopback server cannot send a notification elsewhere either.

Never blocking the watch: the caller runs ``send`` as a task (``asyncio.ensure_future``),
keeps a reference to it until it is done (asyncio holds tasks weakly), and records its
Delivery when it finishes; the loop goes on meanwhile, the blocking work being in a thread.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise

from ..aio import bounded
from ..errors import NetworkPolicyError
from ..masking import mask_url_passwords
from ..netguard import ENV_SWITCH, ensure_allowed, loopback_only

ENV_NOTIFY = "CUTOVER_NOTIFY"
# Schemes whose URL host is where the message goes; every other one talks to its service
# (slack://TOKEN/… goes to hooks.slack.com whatever the URL says).
SELF_ADDRESSED = frozenset({
    "json", "jsons", "xml", "xmls", "form", "forms", "ntfy", "ntfys", "gotify", "gotifys",
    "apprise", "apprises"})
_SEPARATORS = re.compile(r"[\s,]+")


def notify_urls(runbook_urls: Sequence[str]) -> list[str]:
    """``CUTOVER_NOTIFY`` (URLs separated by whitespace or commas) when set, else the runbook's."""
    from_env = [url for url in _SEPARATORS.split(os.environ.get(ENV_NOTIFY, "")) if url]
    return from_env or [url for url in runbook_urls if url]


@dataclass(frozen=True)
class Delivery:
    """How one notification went: ``ok`` when every target got it."""

    ok: bool
    attempts: int  # attempts made (0: refused before any)
    error: str | None  # a sentence naming the targets that did not get it, and why
    targets: tuple[str, ...]  # masked: Apprise's privacy form, no query, no token


class Notifier:
    """Sends to ``urls`` with retries; see the module docstring."""

    def __init__(self, urls: Sequence[str], *,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 attempts: int = 3, backoff: Sequence[float] = (5, 30), timeout: float = 20):
        self.urls = list(urls)
        self.sleep = sleep
        self.attempts = max(1, attempts)
        self.backoff = tuple(backoff) or (0.0,)
        self.timeout = timeout
        self.targets = tuple(masked_target(url) for url in self.urls)

    async def send(self, title: str, body: str) -> Delivery:
        """Deliver to every URL (none if one is invalid or refused); never raises."""
        if not self.urls:
            return Delivery(False, 0, f"no notification URL: set {ENV_NOTIFY} or the runbook's "
                            "notify", ())
        invalid = [target for url, target in zip(self.urls, self.targets, strict=True)
                   if apprise.Apprise.instantiate(url) is None]
        if invalid:
            return Delivery(False, 0, "; ".join(f"not an Apprise URL: {t}" for t in invalid),
                            self.targets)
        refused = [reason for url, target in zip(self.urls, self.targets, strict=True)
                   if (reason := loopback_refusal(url, target))]
        if refused:  # guard: notify-loopback
            return Delivery(False, 0, "; ".join(refused), self.targets)
        pending = list(range(len(self.urls)))
        errors: dict[int, str] = {}
        for attempt in range(1, self.attempts + 1):
            errors = await self._attempt(pending, title, body)
            if not errors:
                return Delivery(True, attempt, None, self.targets)
            pending = sorted(errors)
            if attempt < self.attempts:
                await self.sleep(self.backoff[min(attempt, len(self.backoff)) - 1])
        failed = "; ".join(f"{self.targets[i]}: {errors[i]}" for i in pending)
        return Delivery(False, self.attempts, f"not delivered after {self.attempts} attempt"
                        f"{'s' * (self.attempts != 1)}: {failed}", self.targets)

    async def _attempt(self, pending: list[int], title: str, body: str) -> dict[int, str]:
        """One delivery to the ``pending`` targets: the errors of those that failed."""
        try:
            return await bounded(asyncio.to_thread(self._deliver, pending, title, body),
                                 self.timeout)
        except TimeoutError:
            return dict.fromkeys(pending, f"no answer within {self.timeout:g} s")
        except Exception as exc:  # Apprise's own failure is a failed delivery, never a crash
            return dict.fromkeys(pending, f"{type(exc).__name__}: {exc}")

    def _deliver(self, pending: list[int], title: str, body: str) -> dict[int, str]:
        """In a worker thread: one Apprise call to the targets of ``pending``."""
        asset = apprise.AppriseAsset(http_redirects=not loopback_only())
        sender = apprise.Apprise(asset=asset)
        for index in pending:
            sender.add(self.urls[index], tag=f"target-{index}")
        result = sender.notify(body=body, title=title, timeout=self.timeout)
        errors = {index: "not attempted" for index in pending}
        by_tag = {f"target-{index}": index for index in pending}
        for service in result:
            found = next((by_tag[tag] for tag in service.tag if tag in by_tag), None)
            if found is None:
                continue
            if service:
                del errors[found]
            else:
                said = [entry.message for entry in service.logs()]
                errors[found] = mask_url_passwords(said[-1].rstrip(".")) if said \
                    else f"failed ({service.status.name.lower()})"
        return errors


def loopback_refusal(url: str, target: str) -> str | None:
    """Why ``url`` may not be used under the loopback switch; None when it may (or when the
    switch is off). Decided from the URL alone: no name is looked up but the URL's host."""
    if not loopback_only():
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SELF_ADDRESSED:
        return (f"refusing to notify {target}: {ENV_SWITCH} is set and a {scheme}:// "
                "notification goes to its service, not to a loopback address")
    # Where Apprise will really send it, not what the URL looks like: ntfy without a topic
    # (or with mode=cloud) posts to ntfy.sh, whatever host the URL names.
    plugin = apprise.Apprise.instantiate(url)
    if plugin is not None and getattr(plugin, "mode", None) == "cloud":  # guard: notify-cloud-mode
        return (f"refusing to notify {target}: {ENV_SWITCH} is set and this ntfy URL posts to "
                "the public ntfy.sh (give a topic: ntfy://HOST:PORT/TOPIC)")
    host = getattr(plugin, "host", None) if plugin is not None else None
    try:
        ensure_allowed((host or parts.hostname or "").strip("[]"), f"a notification to {target}")
    except NetworkPolicyError as exc:
        return str(exc)
    return None


def masked_target(url: str) -> str:
    """How a notification URL is shown: Apprise's privacy form (passwords and tokens cut
    down to a few characters) without its query; a URL Apprise does not take shows only its
    scheme and host."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is not None:
        shown = str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]
    else:
        parts = urlsplit(url)
        if not parts.scheme or "://" not in url:
            return f"an entry without scheme:// ({len(url)} characters)"
        shown = f"{parts.scheme}://{parts.netloc}" + ("/…" if parts.path.strip("/") else "")
    return mask_url_passwords(shown.split("?", 1)[0])
