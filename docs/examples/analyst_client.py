"""An analyst's Python client of the hub's analysis API (docs/analysts.md).

Set HUB_URL (e.g. http://127.0.0.1:8000) and HUB_TOKEN (from ``hub users token``), then:

    python docs/examples/analyst_client.py knife-crime-profile

It prints the project's knife-crime ED attendances by month and area as the hub controls them
(suppressed counts are nulls, the rest rounded to 5), read as an Arrow table, and the same
measure from the measures endpoint as JSON. Only httpx and pyarrow are needed.
"""

from __future__ import annotations

import os
import sys

import httpx
import pyarrow as pa

QUERY = """
SELECT event_month, coalesce(local_authority, home_local_authority) AS area
FROM event
WHERE event_type = 'ed_assault_attendance' AND flag_knife
"""


def main(project: str) -> None:
    client = httpx.Client(
        base_url=os.environ.get("HUB_URL", "http://127.0.0.1:8000") + "/api/v1/analysis",
        headers={"Authorization": f"Bearer {os.environ['HUB_TOKEN']}"},
        timeout=120,
    )
    answer = client.post(
        f"/projects/{project}/query", params={"format": "arrow"}, json={"sql": QUERY}
    )
    if answer.status_code != 200:  # a problem document: detail and hint say what to change
        problem = answer.json()
        sys.exit(f"{problem['detail']} ({problem.get('hint', '')})")
    table = pa.ipc.open_stream(answer.content).read_all()
    suppressed = table.column("count").null_count
    print(f"{table.num_rows} cells, {suppressed} suppressed")
    print(table.slice(0, 20).to_pylist())

    measure = client.get(f"/projects/{project}/measures/ed_knife_assault").json()
    print(measure["title"], "by month:", measure["by_month"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "knife-crime-profile")
