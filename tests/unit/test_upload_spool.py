"""The upload spool's checks as the body streams in: the header against the agreement, UTF-8 (a
byte-order mark tolerated), the size limit, a Parquet footer kept from the file's tail, and the
same answer however the body is cut into chunks."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.agreements import Agreement, get_agreement
from hub.ingestion.problems import ProblemError
from hub.ingestion.spool import MAX_FOOTER_BYTES, Spool
from hub.settings import PROJECT_ROOT

CONTRACTS = PROJECT_ROOT / "contracts"
SMALL_CSV = (
    Path(__file__).resolve().parents[1] / "fixtures" / "extracts" / "police-sv-small.csv"
).read_bytes()
POLICE = get_agreement(CONTRACTS, "police-sv")
YOUTH = get_agreement(CONTRACTS, "youth-justice")  # delivered as Parquet


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes, /) -> None:
        self.data += data


def _spool(
    agreement: Agreement, fmt: str, body: bytes, *, chunk: int = 65_536, max_bytes: int = 1 << 30
) -> tuple[Spool, Sink]:
    sink = Sink()
    spool = Spool(agreement, fmt, sink, max_bytes)
    for start in range(0, len(body), chunk):
        spool.feed(body[start : start + chunk])
    spool.finish()
    return spool, sink


def _refusal(agreement: Agreement, fmt: str, body: bytes, **kwargs: int) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        _spool(agreement, fmt, body, **kwargs)
    return caught.value


def _parquet(agreement: Agreement, rows: int = 3, drop: str | None = None) -> bytes:
    columns = [f for f in agreement.received_fields if f != drop]
    table = pa.table({name: [f"v{i}" for i in range(rows)] for name in columns})
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=max(rows // 4, 1))
    return out.getvalue()


def test_a_csv_passes_through_whole_with_a_row_estimate() -> None:
    spool, sink = _spool(POLICE, "csv", SMALL_CSV)
    assert bytes(sink.data) == SMALL_CSV
    assert spool.size == len(SMALL_CSV)
    assert spool.rows_estimate == SMALL_CSV.count(b"\n") - 1


def test_a_byte_order_mark_and_crlf_line_ends_are_accepted() -> None:
    body = b"\xef\xbb\xbf" + SMALL_CSV.replace(b"\n", b"\r\n")
    spool, _ = _spool(POLICE, "csv", body, chunk=5)
    assert spool.rows_estimate == SMALL_CSV.count(b"\n") - 1


def test_an_unexpected_column_is_refused_by_name_before_any_row() -> None:
    header, rest = SMALL_CSV.split(b"\n", 1)
    problem = _refusal(POLICE, "csv", header + b",nhs_number\n" + rest)
    assert problem.document.code == "header_mismatch"
    assert problem.document.field == "nhs_number"
    assert problem.document.rule == "unexpected_column"
    assert "police-sv" in problem.document.detail


def test_invalid_utf8_names_the_line_and_row_never_the_value() -> None:
    lines = SMALL_CSV.split(b"\n")
    lines[3] = lines[3].replace(b",", b",Caf\xe9", 1)  # Latin-1, not UTF-8
    problem = _refusal(POLICE, "csv", b"\n".join(lines))
    assert problem.document.code == "encoding_invalid"
    assert (problem.document.row, problem.document.rule) == (3, "utf8")
    assert "Caf" not in problem.document.model_dump_json()


def test_the_size_limit_stops_the_stream() -> None:
    problem = _refusal(POLICE, "csv", SMALL_CSV, max_bytes=100)
    assert (problem.status, problem.document.code) == (413, "too_large")


def test_a_parquet_footer_is_read_from_the_tail() -> None:
    body = _parquet(YOUTH, rows=5000)
    spool, sink = _spool(YOUTH, "parquet", body, chunk=1000)
    assert spool.rows_estimate == 5000
    assert bytes(sink.data) == body


def test_a_parquet_file_missing_a_required_column_is_refused() -> None:
    problem = _refusal(YOUTH, "parquet", _parquet(YOUTH, drop="yjs_case_id"))
    assert problem.document.code == "header_mismatch"
    assert problem.document.field == "yjs_case_id"


@pytest.mark.parametrize("cut", [1, 8, 100, -1])
def test_a_truncated_or_foreign_parquet_file_is_refused(cut: int) -> None:
    body = _parquet(YOUTH)
    body = SMALL_CSV if cut == -1 else body[:-cut]
    problem = _refusal(YOUTH, "parquet", body)
    assert problem.document.code == "parquet_invalid"


def test_a_footer_larger_than_the_kept_tail_is_refused_clearly() -> None:
    body = b"PAR1" + b"\0" * 16 + (MAX_FOOTER_BYTES + 1).to_bytes(4, "little") + b"PAR1"
    problem = _refusal(YOUTH, "parquet", body)
    assert problem.document.code == "parquet_invalid"
    assert "footer" in problem.document.detail


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=len(SMALL_CSV) - 1), max_size=12),
    broken=st.sampled_from(["none", "header", "utf8"]),
)
def test_the_answer_does_not_depend_on_how_the_body_is_chunked(
    cuts: list[int], broken: str
) -> None:
    body = SMALL_CSV
    if broken == "header":
        body = body.replace(b"person_urn,", b"person_ref,", 1)
    elif broken == "utf8":
        body = body.replace(b"Bram", b"Br\xffm", 1)
    bounds = [0, *sorted(set(cuts)), len(body)]

    def run(chunks: list[bytes]) -> tuple[str, int | None]:
        sink = Sink()
        spool = Spool(POLICE, "csv", sink, 1 << 30)
        try:
            for piece in chunks:
                spool.feed(piece)
            spool.finish()
        except ProblemError as problem:
            return problem.document.code, problem.document.row
        return "ok", spool.rows_estimate

    whole = run([body])
    pieces = run([body[a:b] for a, b in itertools.pairwise(bounds)])
    assert pieces == whole
    assert (
        whole[0] == {"none": "ok", "header": "header_mismatch", "utf8": "encoding_invalid"}[broken]
    )


@pytest.mark.parametrize("cells", [9, 22])
def test_a_file_without_its_header_row_is_refused_without_quoting_the_row(cells: int) -> None:
    rows = SMALL_CSV.split(b"\n")[1:]
    body = b"\n".join(b",".join(r.split(b",")[:cells]) for r in rows)
    problem = _refusal(POLICE, "csv", body)
    assert problem.document.code == "header_missing"
    shown = problem.document.model_dump_json()
    for value in ("Fixturewright", "ZZ99", "04/05/1998", "URN900001", "MV/24"):
        assert value not in shown
    assert "person_urn" in problem.document.detail  # the columns the agreement expects


def test_a_column_name_that_looks_like_a_value_is_counted_not_quoted() -> None:
    header, rest = SMALL_CSV.split(b"\n", 1)
    problem = _refusal(POLICE, "csv", header + b",04/05/1998,extra_notes\n" + rest)
    assert problem.document.code == "header_mismatch"
    assert problem.document.field == "extra_notes"
    assert "04/05/1998" not in problem.document.model_dump_json()
    assert "extra_notes, and 1 that cannot be shown" in problem.document.detail
