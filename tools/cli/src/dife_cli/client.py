"""HTTP to the services: one `httpx.Client` per service, refusals turned into readable `CliError`s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from dife_cli.errors import CliError

TRANSPORT: httpx.BaseTransport | None = None
"""Unit tests put an `httpx.MockTransport` here; None means the network."""


class ServiceClient:
    """A service's REST API with a bearer token; every answer outside 2xx raises a `CliError`."""

    def __init__(self, name: str, base_url: str, token: str, *, timeout_s: float) -> None:
        self.name = name
        self.base_url = base_url
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            transport=TRANSPORT,
        )

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise unreachable(self.name, self.base_url + path, error) from error
        raise_for_problem(self.name, response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except json.JSONDecodeError as error:
            raise CliError(f"{self.name} answered {method} {path} with something that is not JSON") from error

    def stream_to(self, path: str, chunks: int = 1 << 20) -> Iterator[tuple[int | None, bytes]]:
        """GET `path` and yield `(total bytes or None, chunk)` as they arrive."""
        try:
            with self._http.stream("GET", path) as response:
                if response.is_error:
                    response.read()
                    raise_for_problem(self.name, response)
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                for chunk in response.iter_bytes(chunks):
                    yield total, chunk
        except httpx.TransportError as error:
            raise unreachable(self.name, self.base_url + path, error) from error


def unreachable(service: str, url: str, error: httpx.TransportError) -> CliError:
    if isinstance(error, httpx.ConnectError):
        return CliError(
            f"cannot connect to the {service} service at {url} ({error}); is it running? "
            f"Set DIFE_CLI_{service.upper()}_URL or --{service}-url to point elsewhere."
        )
    if isinstance(error, httpx.TimeoutException):
        return CliError(f"the {service} service at {url} did not answer in time ({type(error).__name__})")
    return CliError(f"talking to the {service} service at {url} failed: {type(error).__name__}: {error}")


def raise_for_problem(service: str, response: httpx.Response) -> None:
    """An error answer becomes a `CliError` with the problem's detail and every rule id it names."""
    if not response.is_error:
        return
    request = response.request
    where = f"{request.method} {request.url.path}"
    problem = _problem(response)
    if problem is None:
        text = response.text.strip()[:300] or response.reason_phrase
        raise CliError(f"{service}: {where} answered {response.status_code}: {text}")
    title = problem.get("title") or response.reason_phrase
    detail = problem.get("detail") or ""
    message = f"{service}: {where} refused ({response.status_code} {title})"
    if detail and detail != title:
        message += f": {detail}"
    raise CliError(message, details=problem_details(problem))


def _problem(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def problem_details(problem: dict[str, Any]) -> list[str]:
    """One line per broken rule (`R-…: detail (field)`), invalid field, or allowed transition."""
    lines: list[str] = []
    for rule in problem.get("rules") or []:
        if isinstance(rule, dict):
            field = f" (field {rule['field']})" if rule.get("field") else ""
            lines.append(f"{rule.get('id', '?')}: {rule.get('detail', '')}{field}")
    for error in problem.get("errors") or []:
        if isinstance(error, dict):
            lines.append(f"{error.get('field', '?')}: {error.get('message', '')}")
    if problem.get("current") is not None:
        allowed = ", ".join(problem.get("allowed") or []) or "nothing"
        lines.append(f"current status {problem['current']}; allowed from there: {allowed}")
    return lines
