"""Benchmark: partner API uploads over loopback (MB/s, latency, the server's peak memory).

For each size, valid police-sv CSV extracts (rows from the synthetic partnership, repeated with
changed crime references) are written to a temporary file and uploaded from disk, streamed, by
httpx to a fresh server process on 127.0.0.1:

* the hub: ``hub serve`` (uvicorn) on a fresh data directory with its own keyring, police-sv
  approved for development and a partner credential; each upload is checked (credential,
  agreement, format, size, UTF-8, header), encrypted into landing/, fsynced and recorded;
* the baseline, measured in the same run under the same uvicorn: a raw ASGI app that streams the
  body to a file and fsyncs it, with no checks and no encryption (plain HTTP to disk).

Every run sends a different file (the first row's crime reference changes), so every hub upload
is a new extract (201), none answered from an earlier receipt; each opens a new connection, as a
partner's scheduled job would. MB is 10^6 bytes. Peak memory is
the server's VmHWM from /proc (one server process per size and kind), beside its RSS when idle
after a warm-up upload. Landed files are deleted between runs to keep the disk use near three
times the largest size.

    uv run python bench/ingest.py --sizes 1,100,1000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

# The baseline server runs this file; importing the hub at the top would count its libraries in
# the baseline's memory, so hub modules are imported where the hub is set up.

MB = 1_000_000
AGREEMENT = "police-sv"
TARGET_MB_S = 100.0
FLAT_MIB = 64.0  # peak RSS may grow by this much from the smallest to the largest size
START_TIMEOUT = 60.0
console = Console(highlight=False, soft_wrap=True)


# -- the baseline server: plain HTTP to disk ---------------------------------------------------


def baseline_app(out_dir: Path) -> Any:
    """A raw ASGI app: POST streams the body to a file in ``out_dir`` and fsyncs it; GET is 200."""
    counter = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal counter
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        size = 0
        if scope["method"] == "POST":
            counter += 1
            with (out_dir / f"upload-{counter}.bin").open("wb") as out:
                more = True
                while more:
                    message = await receive()
                    chunk = message.get("body", b"")
                    out.write(chunk)
                    size += len(chunk)
                    more = message.get("more_body", False)
                out.flush()
                os.fsync(out.fileno())
        body = json.dumps({"size_bytes": size}).encode()
        headers = [(b"content-type", b"application/json")]
        status = 201 if scope["method"] == "POST" else 200
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def serve_baseline(port: int, out_dir: Path) -> None:
    import uvicorn

    # the same call as `hub serve` makes
    uvicorn.run(baseline_app(out_dir), host="127.0.0.1", port=port, proxy_headers=True)


# -- extracts ----------------------------------------------------------------------------------


def template_rows(work: Path) -> tuple[bytes, bytes]:
    """The header line and the rows of a small synthetic police-sv extract."""
    from hub.synth import generate_partnership

    summary = generate_partnership(work / "synth", rows=5000)
    header, rows = summary.files[AGREEMENT].read_bytes().split(b"\n", 1)
    shutil.rmtree(work / "synth")
    if not rows.startswith(b'"MV/') or rows.count(b"\n") != summary.rows[AGREEMENT]:
        raise SystemExit(
            "the synthetic police rows are not one line each starting with a crime ref"
        )
    return header + b"\n", rows


def write_extract(path: Path, size: int, header: bytes, rows: bytes) -> int:
    """A valid police-sv CSV of at most ``size`` bytes (whole rows), written block by block;
    crime references differ per block ("MV00000001/..."). Returns the row count."""
    written = count = 0
    with path.open("wb") as out:
        out.write(header)
        written = len(header)
        block_no = 0
        while written < size:
            block = rows.replace(b'"MV/', b'"MV%08d/' % block_no)
            block_no += 1
            room = size - written
            if len(block) > room:
                block = block[: block.rfind(b"\n", 0, room) + 1]
                if not block:
                    break
            out.write(block)
            written += len(block)
            count += block.count(b"\n")
    return count


def vary(path: Path, header: bytes, run: int) -> None:
    """Make run ``run``'s file differ from every other run's: the first crime reference's
    block number (fixed width, so nothing moves)."""
    with path.open("r+b") as f:
        f.seek(len(header) + len(b'"MV'))
        f.write(b"%08d" % (90_000_000 + run))


# -- servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    kind: str
    process: subprocess.Popen[bytes]
    base_url: str

    def status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
        raise RuntimeError(f"no {key} in /proc/{self.process.pid}/status")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(kind: str, command: list[str], env: dict[str, str], log: Path) -> Iterator[Server]:
    port = free_port()
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=log_file, stderr=log_file
        )
    server = Server(kind, process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the {kind} server stopped while starting; see {log}")
            try:
                if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the {kind} server did not start in {START_TIMEOUT:.0f} s")
            time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Hub:
    env: dict[str, str]
    token: str
    landing: Path


def set_up_hub(base: Path, max_bytes: int) -> Hub:
    """A fresh hub under ``base``: keyring, police-sv approved for development, a credential."""
    from hub.agreements import get_agreement
    from hub.agreements.development import approve_for_development
    from hub.ingestion.credentials import issue_credential
    from hub.privacy.keys import init_keyring
    from hub.settings import PROJECT_ROOT, Settings
    from hub.store import make_engine, upgrade

    values = {
        "HUB_ENV": "test",
        "HUB_DATA_DIR": str(base / "var"),
        "HUB_KEY_DIR": str(base / "keys"),
        "HUB_MASTER_KEY_FILE": str(base / "secrets" / "master.key"),
        "HUB_CONTRACTS_DIR": str(PROJECT_ROOT / "contracts"),
        "HUB_MAX_UPLOAD_BYTES": str(max_bytes),
        "HUB_PIPELINE_TRIGGER": "none",  # measure the upload, not staging started after it
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(values)
    settings = Settings(
        env="test",
        data_dir=base / "var",
        key_dir=base / "keys",
        master_key_file=base / "secrets" / "master.key",
        contracts_dir=PROJECT_ROOT / "contracts",
        max_upload_bytes=max_bytes,
    )
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    init_keyring(settings)
    approve_for_development(settings, engine, [get_agreement(settings.contracts_dir, AGREEMENT)])
    _, token = issue_credential(engine, "merseyvale-police", "bench upload client")
    engine.dispose()
    return Hub(env, token, settings.zone("landing"))


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Result:
    size_mb: float
    kind: str
    seconds: list[float]
    statuses: list[int]
    idle_mib: float
    peak_mib: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def mb_s(self) -> float:
        return self.size_mb / self.median


def upload(base_url: str, token: str, path: Path) -> tuple[float, int]:
    """Send ``path`` streamed from disk (httpx reads the open file in pieces and sends its
    size as Content-Length); seconds until the whole response is in, and its status."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    url = f"{base_url}/api/v1/agreements/{AGREEMENT}/extracts"
    with httpx.Client(timeout=httpx.Timeout(900, connect=10)) as client, path.open("rb") as body:
        started = time.perf_counter()
        response = client.post(url, content=body, headers=headers, params={"filename": path.name})
        elapsed = time.perf_counter() - started
    if response.status_code not in (200, 201):
        raise SystemExit(f"upload refused: {response.status_code} {response.text[:300]}")
    if response.json()["size_bytes"] != path.stat().st_size:
        raise SystemExit("the server received a different number of bytes than were sent")
    return elapsed, response.status_code


def clear(folder: Path) -> None:
    """Delete what earlier runs stored (landed or baseline files), keeping the folders."""
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".sealed", ".bin"):
            path.unlink()


def measure(
    server: Server,
    token: str,
    extract: Path,
    header: bytes,
    warm_up: Path,
    runs: int,
    stored: Path,
) -> Result:
    upload(server.base_url, token, warm_up)  # first-request costs (imports, keyring, caches)
    idle = server.status_kib("VmRSS") / 1024
    seconds, statuses = [], []
    for run in range(runs):
        vary(extract, header, run)
        clear(stored)
        elapsed, status = upload(server.base_url, token, extract)
        seconds.append(elapsed)
        statuses.append(status)
    peak = server.status_kib("VmHWM") / 1024
    clear(stored)
    return Result(extract.stat().st_size / MB, server.kind, seconds, statuses, idle, peak)


# -- the report --------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def report(results: list[Result]) -> None:
    table = Table(title="Partner API upload over loopback (police-sv CSV, streamed from disk)")
    table.add_column("size", justify="right")
    table.add_column("server")
    for column in ("runs", "status", "latency median (min-max)", "MB/s"):
        table.add_column(column, justify="right")
    for column in ("idle RSS", "peak RSS", "peak - idle"):
        table.add_column(column + " MiB", justify="right")
    for r in results:
        table.add_row(
            f"{r.size_mb:,.0f} MB",
            r.kind,
            str(len(r.seconds)),
            "/".join(str(s) for s in sorted(set(r.statuses))),
            f"{_ms(r.median)} ({_ms(min(r.seconds))}-{_ms(max(r.seconds))})",
            f"{r.mb_s:,.0f}",
            f"{r.idle_mib:,.0f}",
            f"{r.peak_mib:,.0f}",
            f"{r.peak_mib - r.idle_mib:+,.0f}",
        )
    console.print(table)
    hub = [r for r in results if r.kind == "hub"]
    base = {r.size_mb: r for r in results if r.kind == "baseline"}
    for r in hub:
        b = base.get(r.size_mb)
        if b is not None:
            console.print(
                f"{r.size_mb:,.0f} MB: hub {r.mb_s:,.0f} MB/s = {r.mb_s / b.mb_s:.0%} of plain "
                f"HTTP to disk ({b.mb_s:,.0f} MB/s); latency +{(r.median - b.median) * 1000:,.0f} "
                "ms"
            )
    if hub:
        largest = max(hub, key=lambda r: r.size_mb)
        smallest = min(hub, key=lambda r: r.size_mb)
        met = "met" if largest.mb_s >= TARGET_MB_S else "NOT met"
        console.print(
            f"target >= {TARGET_MB_S:.0f} MB/s at {largest.size_mb:,.0f} MB: {met} "
            f"({largest.mb_s:,.0f} MB/s)"
        )
        growth = largest.peak_mib - smallest.peak_mib
        flat = "flat" if growth <= FLAT_MIB else "NOT flat"
        console.print(
            f"hub peak RSS {smallest.peak_mib:,.0f} MiB at {smallest.size_mb:,.0f} MB, "
            f"{largest.peak_mib:,.0f} MiB at {largest.size_mb:,.0f} MB: {flat} in file size "
            f"({growth:+,.0f} MiB; allowed {FLAT_MIB:.0f})"
        )


# -- main --------------------------------------------------------------------------------------


def sizes_arg(text: str) -> list[float]:
    try:
        sizes = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("sizes are MB numbers separated by commas") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError("give at least one size above 0 MB")
    return sizes


def check_disk(folder: Path, largest: int) -> None:
    free = shutil.disk_usage(folder).free
    need = 3 * largest + 200 * MB  # the extract, one stored copy, the partial being written
    console.print(
        f"temporary folder {folder}: {free / 1e9:,.1f} GB free, {need / 1e9:,.1f} GB needed"
    )
    if free < need:
        raise SystemExit(f"not enough disk space in {folder}: use smaller --sizes or set TMPDIR")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", type=sizes_arg, default=[1.0, 100.0, 1000.0], help="MB, e.g. 1,100,1000"
    )
    parser.add_argument("--runs", type=int, default=5, help="uploads per size below 100 MB")
    parser.add_argument(
        "--large-runs", type=int, default=2, help="uploads per size of 100 MB or more"
    )
    parser.add_argument("--serve-baseline", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline is not None:
        serve_baseline(args.port, args.serve_baseline)
        return
    if not console.is_terminal:
        console.width = 120  # the table's width when the output goes to a file

    sizes = sorted(int(s * MB) for s in args.sizes)
    with tempfile.TemporaryDirectory(prefix="hub-bench-ingest-") as tmp:
        work = Path(tmp)
        check_disk(work, sizes[-1])
        hub = set_up_hub(work / "hub", max(2 << 30, sizes[-1] + MB))
        header, rows = template_rows(work)
        warm_up = work / "warm-up.csv"
        warm_up.write_bytes(header + rows.split(b"\n", 1)[0] + b"\n")
        received = work / "baseline"
        received.mkdir()
        hub_command = [sys.executable, "-c", "from hub.cli.app import main; main()", "serve"]
        baseline_command = [sys.executable, __file__, "--serve-baseline", str(received)]
        results: list[Result] = []
        for size in sizes:
            extract = work / "extract.csv"
            started = time.perf_counter()
            count = write_extract(extract, size, header, rows)
            console.print(
                f"{size / MB:,.0f} MB extract: {count:,} rows, written in "
                f"{time.perf_counter() - started:.1f} s"
            )
            runs = args.runs if size < 100 * MB else args.large_runs
            for kind, command, stored in (
                ("hub", hub_command, hub.landing),
                ("baseline", baseline_command, received),
            ):
                with running(kind, command, hub.env, work / f"{kind}.log") as server:
                    result = measure(server, hub.token, extract, header, warm_up, runs, stored)
                results.append(result)
                console.print(
                    f"  {kind:<8} {result.mb_s:8,.0f} MB/s  median {result.median:.3f} s  "
                    f"peak RSS {result.peak_mib:,.0f} MiB"
                )
            extract.unlink()
        report(results)


if __name__ == "__main__":
    main()
