"""Upload one extract to the hub's partner API: streamed from disk, retried when that is safe.

The partner system's side of ``docs/partners.md``. It sends the file under its agreement with
the partner credential, and

- retries when the hub is briefly unavailable (503, or 500/502/504 from the hub or a proxy in
  front of it) or the connection fails: a retry is always safe, because the same file sent twice
  is stored once and answered with the same receipt (200 instead of 201);
- stops at any other refusal (401, 403, 404, 413, 415, 422) and shows the hub's problem
  document: sending the same file again would be refused again.

The file is never read whole into memory: httpx reads it from disk in pieces and sends its size
as Content-Length, so the hub can refuse a file that is too large before any of it is sent.

    export SVDHUB_TOKEN=svdhub_pk_...   # from `hub partners issue`; keep it in a secret store
    python upload_extract.py --hub https://hub.example --agreement police-sv extract.csv

It prints the receipt (JSON) and exits 0; a refusal exits 1, giving up after retries exits 2.
Needs Python 3.10 or later and httpx (``pip install httpx``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

TOKEN_ENV = "SVDHUB_TOKEN"  # noqa: S105 (the variable's name, not a token)
CONTENT_TYPES = {
    ".csv": "text/csv",
    ".ndjson": "application/x-ndjson",
    ".jsonl": "application/x-ndjson",
    ".parquet": "application/vnd.apache.parquet",
}
RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_WAIT_SECONDS = 300.0


class RefusedError(Exception):
    """The hub refused the request; ``problem`` is its RFC 9457 problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('code', '')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem


class UploadFailedError(Exception):
    """Every attempt failed with a connection error or a temporary refusal."""


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict):
        return document
    # not the hub's answer (a proxy's error page, say): keep a short, printable part of it
    return {"status": response.status_code, "detail": response.text[:200]}


def _wait(response: httpx.Response | None, attempt: int, backoff: float) -> float:
    """Seconds to wait before the next attempt: the hub's Retry-After when it sends one, else
    exponential backoff."""
    retry_after = "" if response is None else str(response.headers.get("Retry-After", ""))
    if retry_after.isdigit():
        return min(float(retry_after), MAX_WAIT_SECONDS)
    return min(backoff * 2.0**attempt, MAX_WAIT_SECONDS)


def upload_extract(
    hub_url: str,
    token: str,
    agreement_id: str,
    path: Path,
    *,
    content_type: str | None = None,
    attempts: int = 5,
    backoff: float = 2.0,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Send ``path`` under ``agreement_id``; the receipt (the hub's JSON) once it is received.

    Raises ``RefusedError`` for a refusal to act on, ``UploadFailedError`` after ``attempts``
    connection errors or temporary refusals.
    """
    media = content_type or CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    url = f"{hub_url.rstrip('/')}/api/v1/agreements/{agreement_id}/extracts"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": media}
    last = "no attempt was made"
    with httpx.Client(timeout=httpx.Timeout(timeout, connect=30.0)) as client:
        for attempt in range(attempts):
            response = None
            try:
                with path.open("rb") as body:  # streamed: httpx reads it in pieces
                    response = client.post(
                        url, content=body, headers=headers, params={"filename": path.name}
                    )
            except httpx.TransportError as exc:  # refused, reset or timed out: safe to retry
                last = f"connection failed ({type(exc).__name__})"
            else:
                if response.status_code in (200, 201):
                    receipt: dict[str, Any] = response.json()
                    return receipt
                if response.status_code not in RETRY_STATUSES:
                    raise RefusedError(response.status_code, _problem(response))
                last = f"the hub answered {response.status_code}"
            if attempt + 1 < attempts:
                time.sleep(_wait(response, attempt, backoff))
    raise UploadFailedError(f"gave up after {attempts} attempt(s): {last}")


def extract_status(hub_url: str, token: str, extract_id: str, *, report: bool = False) -> Any:
    """An extract's status (``report=True``: its quality report), as the hub's JSON."""
    url = f"{hub_url.rstrip('/')}/api/v1/extracts/{extract_id}" + ("/report" if report else "")
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0)
    if response.status_code != 200:
        raise RefusedError(response.status_code, _problem(response))
    return response.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Upload one extract to the hub.")
    parser.add_argument("file", type=Path, help="the extract file")
    parser.add_argument("--hub", required=True, help="the hub's address, e.g. https://hub.example")
    parser.add_argument("--agreement", required=True, help="the agreement id, e.g. police-sv")
    parser.add_argument("--content-type", help="default: from the file's extension")
    parser.add_argument("--attempts", type=int, default=5, help="attempts before giving up")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        sys.stderr.write(f"no file {args.file}\n")
        return 2
    token = os.environ.get(TOKEN_ENV)
    if not token:
        sys.stderr.write(f"set {TOKEN_ENV} to the partner credential (never pass it as an arg)\n")
        return 2
    try:
        receipt = upload_extract(
            args.hub,
            token,
            args.agreement,
            args.file,
            content_type=args.content_type,
            attempts=args.attempts,
        )
    except RefusedError as exc:
        sys.stderr.write(json.dumps(exc.problem, indent=2) + "\n")
        return 1
    except UploadFailedError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    sys.stdout.write(json.dumps(receipt, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
