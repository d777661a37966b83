"""R-REG-1: an RNE file read piece by piece (as stored in chunks) reads exactly as the whole file: lines and
characters cut between two pieces, the encoding found over every piece (issue 8: bounded memory)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dife_contracts.enums import RneFileType
from rights_ledger.domain.rne import Chunks, as_chunks, detect_encoding, parse_rne, physical_lines

from .test_rne_parsing import CM_HEADER

ROWS = [
    "01;Ain;;;1001;L'Abergement-Clémenciat;DUPONT;Élise;F;05/03/1961;23;Cadres;28/06/2020;Maire;03/07/2020;FR",
    '01;Ain;;;1002;Ambérieu;"MARTIN;Zoé;F;01/01/1970;23;Cadres;28/06/2020;;;FR',
    "",
    "01;Ain;;;1004;Ambérieux;LEFÈVRE;Noël;M;02/02/1972;23;Cadres;2020-06-28;;;FR",
]


def _pieces(data: bytes, size: int) -> Chunks:
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    return chunks


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_file_in_pieces_of_any_size_reads_as_the_whole_file_R_REG_1(size: int, encoding: str) -> None:
    data = ("\r\n".join([CM_HEADER, *ROWS]) + "\r\n").encode(encoding)
    whole = parse_rne(data, RneFileType.CM)
    pieces = parse_rne(_pieces(data, size), RneFileType.CM)
    assert (pieces.records, pieces.rejected, pieces.encoding) == (
        whole.records,
        whole.rejected,
        whole.encoding,
    )
    assert [r.family_name for r in pieces.records] == ["DUPONT", "LEFÈVRE"]
    assert [(r.line, r.reason) for r in pieces.rejected] == [
        (3, 'unbalanced or stray quote (") in the line'),
        (4, "empty line"),
    ]
    assert pieces.encoding == ("utf-8-sig" if encoding == "utf-8" else "cp1252")


def test_the_encoding_is_found_over_every_piece_not_the_first_only_R_REG_1() -> None:
    """A latin-1 byte in the last piece makes the whole file cp1252, however clean its first pieces are."""
    data = ("a" * 10 + "é").encode("cp1252")
    assert detect_encoding(_pieces(data, 4)) == "cp1252"
    assert detect_encoding(_pieces(data[:10], 4)) == "utf-8-sig"
    assert detect_encoding(_pieces(b"\x81\x8d\x8f", 1)) == "latin-1"


def test_a_character_cut_between_two_pieces_is_one_character_R_REG_1() -> None:
    data = "Élise\nZoé\n".encode()
    assert list(physical_lines(_pieces(data, 1), "utf-8")) == [(1, "Élise"), (2, "Zoé")]
    assert list(physical_lines(_pieces(b"", 1), "utf-8")) == []


def test_a_whole_file_is_read_in_views_of_one_mebibyte_without_a_copy_R_REG_1() -> None:
    data = b"x" * ((1 << 20) + 5)
    pieces = list(as_chunks(data)())
    assert [len(p) for p in pieces] == [1 << 20, 5]
    assert all(isinstance(p, memoryview) and p.obj is data for p in pieces)
    source = _pieces(b"ab", 1)
    assert as_chunks(source) is source


def test_only_a_line_feed_ends_a_line_and_a_carriage_return_before_it_is_dropped_R_REG_1() -> None:
    """Windows ``\\r\\n`` ends a line like ``\\n``; a lone ``\\r`` is a character of the line (a spreadsheet
    shows it on the same row), so line numbers stay those of the file."""
    data = b"header\r\nA\rB\nC\r\n\rD\n"
    assert list(physical_lines(data, "utf-8")) == [(1, "header"), (2, "A\rB"), (3, "C"), (4, "\rD")]


def test_a_last_line_without_a_final_newline_is_still_read_R_REG_1() -> None:
    for size in (1, 3, 1 << 20):
        assert list(physical_lines(_pieces(b"header\nA\nB", size), "utf-8")) == [
            (1, "header"),
            (2, "A"),
            (3, "B"),
        ]


def test_a_piece_larger_than_the_read_buffer_is_read_whole_R_REG_1() -> None:
    """One piece of 100 000 bytes (an upload chunk) is read over many buffer fills, nothing skipped."""
    lines = [f"{n:09d}" for n in range(10_000)]
    data = ("\n".join(lines) + "\n").encode()
    assert list(physical_lines(_pieces(data, len(data)), "utf-8")) == list(enumerate(lines, start=1))
