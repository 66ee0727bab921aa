"""ArbiterClient: one requests.Session with a token, retries with backoff, paging and streamed
downloads over Arbiter's /api/."""

from __future__ import annotations

import email.utils
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

FINISHED = frozenset({"succeeded", "failed", "cancelled"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK = 1 << 16


class ArbiterError(Exception):
    """The server refused a request (4xx) or kept failing (5xx after every retry)."""

    def __init__(self, status: int, body: Any, url: str) -> None:
        super().__init__(f"{status} from {url}: {body}")
        self.status = status
        self.body = body
        self.url = url


@dataclass(frozen=True)
class RetryPolicy:
    """Retries on 429, 5xx and connection errors: `attempts` tries in all, waiting
    backoff * 2**n seconds (at most `max_wait`), or what Retry-After says."""

    attempts: int = 5
    backoff: float = 0.5
    max_wait: float = 30.0

    def wait(self, attempt: int, response: requests.Response | None) -> float:
        if response is not None and (header := response.headers.get("Retry-After")):
            seconds = _retry_after_seconds(header)
            if seconds is not None:
                return min(seconds, self.max_wait)
        return min(self.backoff * 2**attempt, self.max_wait)


def _retry_after_seconds(header: str) -> float | None:
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


class ArbiterClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.session.headers["Accept"] = "application/json"

    # ------------------------------------------------------------------ plumbing

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}/api/{path.lstrip('/')}"

    def request(
        self, method: str, path: str, *, stream: bool = False, **kwargs
    ) -> requests.Response:
        """Sends the request, retrying 429, 5xx and connection errors; raises ArbiterError on
        any other 4xx, or once the retries are spent."""
        url = self._url(path)
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            for handle in kwargs.get("files", {}).values():
                if hasattr(handle, "seek"):
                    handle.seek(0)  # a retried upload sends the whole file again
            try:
                response = self.session.request(
                    method, url, stream=stream, timeout=self.timeout, **kwargs
                )
            except (requests.ConnectionError, requests.Timeout):
                if last:
                    raise
                time.sleep(self.retry.wait(attempt, None))
                continue
            if response.status_code in RETRY_STATUSES and not last:
                response.close()
                time.sleep(self.retry.wait(attempt, response))
                continue
            if response.status_code >= 400:
                raise ArbiterError(response.status_code, _body(response), url)
            return response
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _json(self, method: str, path: str, **kwargs) -> Any:
        response = self.request(method, path, **kwargs)
        return None if response.status_code == 204 or not response.content else response.json()

    def paginate(self, path: str, params: dict | None = None) -> Iterator[dict]:
        """Every item of a list endpoint, following `next` links (a plain list is one page)."""
        page = self._json("GET", path, params=params)
        while True:
            if isinstance(page, list):
                yield from page
                return
            yield from page["results"]
            if not page.get("next"):
                return
            page = self._json("GET", page["next"])

    def _wait(self, path: str, *, timeout: float, poll: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            item = self._json("GET", path)
            if item["status"] in FINISHED:
                return item
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} is still {item['status']} after {timeout}s")
            time.sleep(poll)

    def _download(self, path: str, out: str | os.PathLike | IO[bytes]) -> int:
        """Streams the body to `out` (a path or a binary file) in blocks; returns the bytes."""
        response = self.request("GET", path, stream=True, headers={"Accept": "*/*"})
        written = 0
        with response:
            if isinstance(out, (str, os.PathLike)):
                with open(out, "wb") as handle:
                    for block in response.iter_content(CHUNK):
                        written += handle.write(block)
            else:
                for block in response.iter_content(CHUNK):
                    written += out.write(block)
        return written

    # ------------------------------------------------------------------ projects

    def projects(self) -> list[dict]:
        return list(self.paginate("projects/"))

    def project(self, project_id: int) -> dict:
        return self._json("GET", f"projects/{project_id}/")

    def create_project(self, *, name: str, kind: str = "pairwise", **fields: Any) -> dict:
        return self._json("POST", "projects/", json={"name": name, "kind": kind, **fields})

    def update_project(self, project_id: int, **fields: Any) -> dict:
        return self._json("PATCH", f"projects/{project_id}/", json=fields)

    # ------------------------------------------------------------------ imports

    def import_file(self, project_id: int, path: str | os.PathLike, **options: Any) -> dict:
        """Uploads a JSONL / CSV file of prompts and responses; the import runs in the
        background (see wait_import)."""
        with open(path, "rb") as handle:
            return self._json(
                "POST",
                f"projects/{project_id}/imports/",
                files={"file": (Path(path).name, handle)},
                data=options,
            )

    def import_job(self, job_id: int) -> dict:
        return self._json("GET", f"imports/{job_id}/")

    def wait_import(self, job_id: int, *, timeout: float = 600, poll: float = 1.0) -> dict:
        return self._wait(f"imports/{job_id}/", timeout=timeout, poll=poll)

    # ------------------------------------------------------------------ labeling

    def next_task(self, project_id: int) -> dict | None:
        """Claims the next task (a lease with `assignment`, `messages`, `responses` in display
        order); None when there is nothing left to label."""
        return self._json("POST", f"projects/{project_id}/tasks/next/")

    def submit(self, assignment_id: int, payload: dict, **fields: Any) -> dict:
        return self._json(
            "POST", f"assignments/{assignment_id}/judgment/", json={"payload": payload, **fields}
        )

    def skip(self, assignment_id: int) -> None:
        self._json("POST", f"assignments/{assignment_id}/skip/")

    def judgments(self, project_id: int, **filters: Any) -> Iterator[dict]:
        return self.paginate(f"projects/{project_id}/judgments/", filters)

    # ------------------------------------------------------------------ runs

    def launch_run(self, project_id: int, *, objective: str, **fields: Any) -> dict:
        return self._json(
            "POST", f"projects/{project_id}/runs/", json={"objective": objective, **fields}
        )

    def runs(self, project_id: int) -> Iterator[dict]:
        return self.paginate(f"projects/{project_id}/runs/")

    def run(self, run_id: int) -> dict:
        return self._json("GET", f"runs/{run_id}/")

    def wait_run(self, run_id: int, *, timeout: float = 3600, poll: float = 2.0) -> dict:
        return self._wait(f"runs/{run_id}/", timeout=timeout, poll=poll)

    def cancel_run(self, run_id: int) -> dict:
        return self._json("POST", f"runs/{run_id}/cancel/")

    # ------------------------------------------------------------------ exports and snapshots

    def export(
        self, project_id: int, kind: str, out: str | os.PathLike | IO[bytes], **options: Any
    ) -> int:
        """Streams an export made now (`format` among the options: jsonl or parquet)."""
        file_format = options.pop("format", "jsonl")
        return self._download(
            self._url(f"projects/{project_id}/exports/{kind}.{file_format}") + _query(options),
            out,
        )

    def create_export_job(self, project_id: int, *, kind: str, **options: Any) -> dict:
        return self._json("POST", f"projects/{project_id}/exports/", json={"kind": kind, **options})

    def wait_export_job(self, job_id: int, *, timeout: float = 600, poll: float = 1.0) -> dict:
        return self._wait(f"exports/{job_id}/", timeout=timeout, poll=poll)

    def snapshots(self, project_id: int, **filters: Any) -> Iterator[dict]:
        return self.paginate(f"projects/{project_id}/snapshots/", filters)

    def snapshot(self, snapshot_id: int) -> dict:
        return self._json("GET", f"snapshots/{snapshot_id}/")

    def create_snapshot(self, project_id: int, *, kind: str, **options: Any) -> dict:
        return self._json(
            "POST", f"projects/{project_id}/snapshots/", json={"kind": kind, **options}
        )

    def download_snapshot(self, snapshot_id: int, out: str | os.PathLike | IO[bytes]) -> int:
        return self._download(f"snapshots/{snapshot_id}/download/", out)

    def snapshot_card(self, snapshot_id: int) -> str:
        return self.request("GET", f"snapshots/{snapshot_id}/card/", headers={"Accept": "*/*"}).text

    def to_datasets(self, snapshot_id: int, *, cache_dir: str | None = None):
        """The snapshot as a Hugging Face `datasets.Dataset` (needs the `datasets` extra)."""
        import datasets

        snapshot = self.snapshot(snapshot_id)
        folder = Path(cache_dir or tempfile.mkdtemp(prefix="arbiter-"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{snapshot['sha256']}.{snapshot['format']}"
        if not path.exists():
            partial = path.with_suffix(".partial")
            self.download_snapshot(snapshot_id, partial)
            partial.replace(path)
        builder = "parquet" if snapshot["format"] == "parquet" else "json"
        return datasets.load_dataset(
            builder, data_files=str(path), split="train", cache_dir=str(folder / "hf-cache")
        )


def _query(options: dict) -> str:
    if not options:
        return ""
    return "?" + requests.compat.urlencode(options)
