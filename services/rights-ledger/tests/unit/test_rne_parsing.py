"""R-REG-1 / R-REG-2: reading RNE files and recognising persons."""

from datetime import date

import pytest
from dife_contracts.enums import MandateFamily, RneFileType
from rights_ledger.domain.identity import PersonKey, normalise_name
from rights_ledger.domain.rne import RneFormatError, pad_commune_code, parse_date, parse_rne
from rights_ledger.domain.snapshot import MandateKey, diff_snapshot

CM_HEADER = (
    "Code du département;Libellé du département;Code de la collectivité à statut particulier;"
    "Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;Nom de l'élu;"
    "Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;"
    "Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;"
    "Date de début de la fonction;Code nationalité"
)
TAIL = (
    "Nom de l'élu;Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;"
    "Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;"
    "Date de début de la fonction;Code nationalité"
)


def _cm(*rows: str) -> str:
    return "\n".join([CM_HEADER, *rows]) + "\n"


def test_municipal_file_in_utf8_with_french_dates_R_REG_1() -> None:
    data = _cm(
        "01;Ain;;;1001;L'Abergement-Clémenciat;DUPONT;Élise;F;05/03/1961;23;Cadres;"
        "28/06/2020;Maire;03/07/2020;FR"
    ).encode()
    parsed = parse_rne(data, RneFileType.CM)
    assert parsed.rejected == []
    [record] = parsed.records
    assert parsed.mandate_family is MandateFamily.MUNICIPAL
    assert record.collectivite_code == "01001"
    assert record.collectivite_name == "L'Abergement-Clémenciat"
    assert record.birth_date == date(1961, 3, 5)
    assert record.mandate_start == date(2020, 6, 28)
    assert record.given_key == "ELISE"
    assert record.function == "Maire"


def test_latin1_file_with_iso_dates_and_commas_R_REG_1() -> None:
    text = _cm("01,Ain,,,1004,Ambérieu-en-Bugey,LÉGER,Hélène,F,1970-01-31,23,Cadres,2026-03-22,,,FR")
    text = text.replace(";", ",")
    parsed = parse_rne(text.encode("latin-1"), RneFileType.CM)
    assert parsed.encoding != "utf-8-sig"
    assert parsed.delimiter == ","
    [record] = parsed.records
    assert record.family_name == "LÉGER"
    assert record.birth_date == date(1970, 1, 31)
    assert record.mandate_start == date(2026, 3, 22)
    assert record.function_start is None


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_load_R_REG_2() -> None:
    data = _cm(
        "01;Ain;;;1001;X;MARTIN;Paul;M;01/01/1960;1;a;01/07/2020;;;FR",
        "01;Ain;;;1001;X;MARTIN;Paul;M;31/02/1960;1;a;01/07/2020;;;FR",
        "01;Ain;;;1001;X;;Paul;M;01/01/1960;1;a;01/07/2020;;;FR",
        "01;Ain;;;1001;X;MARTIN",
        "01;Ain;;;1001;X;DURAND;Luc;M;01/01/1960;1;a;2020/07/01;;;FR",
        "01;Ain;;;1001;X;DURAND;Luc;M;01/01/1960;1;a;01/07/2020;;;FR",
    ).encode()
    parsed = parse_rne(data, RneFileType.CM)
    assert [r.line for r in parsed.records] == [2, 7]
    assert [r.line for r in parsed.rejected] == [3, 4, 5, 6]
    assert "birth date" in parsed.rejected[0].reason
    assert "missing" in parsed.rejected[1].reason
    assert "columns" in parsed.rejected[2].reason
    assert "mandate start" in parsed.rejected[3].reason
    assert parsed.rows_read == 6


@pytest.mark.parametrize(
    ("file_type", "lead", "values", "code", "mandate_type"),
    [
        (
            RneFileType.EPCI,
            "Code du département;Libellé du département;N° SIREN;Libellé de l'EPCI",
            "01;Ain;200069193;CC de la Dombes",
            "200069193",
            MandateFamily.COMMUNAUTAIRE,
        ),
        (
            RneFileType.CD,
            "Code du département;Libellé du département;Code du canton;Libellé du canton",
            "2A;Corse-du-Sud;2A01;Ajaccio-1",
            "2A",
            MandateFamily.DEPARTMENTAL,
        ),
        (
            RneFileType.CR,
            "Code de la région;Libellé de la région;Code de la section départementale;"
            "Libellé de la section départementale",
            "84;Auvergne-Rhône-Alpes;01;Ain",
            "84",
            MandateFamily.REGIONAL,
        ),
    ],
)
def test_each_file_type_has_its_own_leading_columns_R_REG_1(
    file_type: RneFileType, lead: str, values: str, code: str, mandate_type: MandateFamily
) -> None:
    data = f"{lead};{TAIL}\n{values};ROUX;Anne;F;02/02/1972;1;a;01/07/2021;;;FR\n".encode()
    parsed = parse_rne(data, file_type)
    [record] = parsed.records
    assert record.collectivite_code == code
    assert parsed.mandate_family is mandate_type


def test_unknown_layout_is_refused_as_a_whole_R_REG_1() -> None:
    with pytest.raises(RneFormatError, match="lacks"):
        parse_rne(b"a;b;c\n1;2;3\n", RneFileType.CM)


def test_both_date_formats_R_REG_1() -> None:
    assert parse_date("05/07/2021") == parse_date("2021-07-05") == date(2021, 7, 5)
    with pytest.raises(ValueError):
        parse_date("5/7/2021")


def test_commune_codes_are_padded_to_5_characters_R_REG_1() -> None:
    assert pad_commune_code("1001") == "01001"
    assert pad_commune_code("2A004") == "2A004"
    assert pad_commune_code("75056") == "75056"


def test_identity_ignores_case_accents_hyphens_and_spaces_R_REG_2() -> None:
    assert normalise_name("  Jean-François  d'Aubigné ") == "JEAN FRANCOIS D AUBIGNE"
    assert PersonKey.of("Lætitia", "Zoé", date(1980, 1, 1)) == PersonKey.of(
        "LAETITIA", "zoe", date(1980, 1, 1)
    )


def test_a_mandate_absent_from_the_snapshot_has_ended_at_its_date_R_REG_2() -> None:
    person = PersonKey.of("Martin", "Paul", date(1960, 1, 1))
    kept = MandateKey(person, MandateFamily.MUNICIPAL, "01001", date(2020, 7, 1))
    gone = MandateKey(person, MandateFamily.MUNICIPAL, "01002", date(2020, 7, 1))
    new = MandateKey(person, MandateFamily.MUNICIPAL, "01003", date(2026, 3, 22))
    diff = diff_snapshot([kept, gone], [kept, new], date(2026, 4, 1))
    assert diff.ended == {gone}
    assert diff.created == {new}
    assert diff.ended_on == date(2026, 4, 1)


def _row(family: str = "MARTIN", birth: str = "01/01/1960", start: str = "01/07/2020") -> str:
    return f"01;Ain;;;1001;X;{family};Paul;M;{birth};1;a;{start};;;FR"


def test_every_physical_line_is_loaded_or_rejected_stray_quote_nul_and_empty_lines_included_R_REG_1() -> None:
    lines = [_row(f"NOM{n}") for n in range(10)]
    lines[2] = _row('"ROUX')  # line 4: a stray opening quote used to swallow the next lines
    lines[5] = _row("DU\x00PONT")  # line 7: a NUL byte used to fail the whole job
    lines[7] = ""  # line 9
    parsed = parse_rne(_cm(*lines).encode(), RneFileType.CM)
    assert parsed.rows_read == len(parsed.records) + len(parsed.rejected) == 10
    assert [(r.line, r.reason.split(" ")[0]) for r in parsed.rejected] == [
        (4, "unbalanced"),
        (7, "the"),
        (9, "empty"),
    ]
    assert "NUL" in parsed.rejected[1].reason
    assert [r.line for r in parsed.records] == [2, 3, 5, 6, 8, 10, 11]


def test_a_quoted_field_with_the_delimiter_still_reads_R_REG_1() -> None:
    parsed = parse_rne(
        _cm('01;Ain;;;1001;"Saint-Denis; la Ville";MARTIN;Paul;M;01/01/1960;1;a;01/07/2020;;;FR').encode(),
        RneFileType.CM,
    )
    [record] = parsed.records
    assert record.collectivite_name == "Saint-Denis; la Ville"


@pytest.mark.parametrize(
    ("birth", "start", "snapshot", "loaded"),
    [
        ("01/01/1900", "01/07/2020", None, True),
        ("31/12/1899", "01/07/2020", None, False),
        ("01/07/2002", "01/07/2020", None, True),  # 18 on the day the mandate starts
        ("02/07/2002", "01/07/2020", None, False),  # 18 the day after
        ("01/01/1960", "15/01/2026", date(2026, 1, 15), True),
        ("01/01/1960", "16/01/2026", date(2026, 1, 15), False),
    ],
)
def test_implausible_dates_are_rejected_born_from_1900_of_age_18_started_by_the_snapshot_R_REG_1(
    birth: str, start: str, snapshot: date | None, loaded: bool
) -> None:
    parsed = parse_rne(_cm(_row(birth=birth, start=start)).encode(), RneFileType.CM, snapshot)
    assert (len(parsed.records) == 1) is loaded
    assert parsed.rows_read == 1


@pytest.mark.parametrize(("length", "loaded"), [(200, True), (201, False)])
def test_names_longer_than_activation_and_search_accept_are_rejected_at_import_R_REG_2(
    length: int, loaded: bool
) -> None:
    parsed = parse_rne(_cm(_row(family="A" * length)).encode(), RneFileType.CM)
    assert (len(parsed.records) == 1) is loaded


# R-REG-1: what a rejected line, a refused file and a header read say (the import report shows them as is).

MINIMAL = "Code de la commune;Nom de l'élu;Prénom de l'élu;Date de naissance;Date de début du mandat"


def test_a_name_too_long_rejects_its_line_with_the_limit_and_the_next_line_still_loads_R_REG_2() -> None:
    rows = [_row(family="A" * 201), _row(family="B" * 200)]
    parsed = parse_rne(_cm(*rows).encode(), RneFileType.CM)
    assert [(r.line, r.reason) for r in parsed.rejected] == [(2, "a name longer than 200 characters")]
    assert [(r.line, r.family_name) for r in parsed.records] == [(3, "B" * 200)]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("01;Ain;;;1001;X;;Paul;M;01/01/1960;1;a;01/07/2020;;;FR", "family name or given names missing"),
        ("01;Ain;;;1001;X;MARTIN; ;M;01/01/1960;1;a;01/07/2020;;;FR", "family name or given names missing"),
        (
            "01;Ain;;;1001;X;MARTIN;Paul;M;01/01/1960;1;a;16/01/2026;;;FR",
            "mandate start date: after the snapshot date",
        ),
        ("01;Ain;;;1001;X;MARTIN;Paul;M;01/01/1960;1;a;01/07/2020", "13 columns, the header has 16"),
    ],
)
def test_a_rejected_line_gives_its_reason_in_full_R_REG_1(row: str, reason: str) -> None:
    parsed = parse_rne(_cm(row).encode(), RneFileType.CM, date(2026, 1, 15))
    assert [(r.line, r.reason) for r in parsed.rejected] == [(2, reason)]


def test_the_given_names_are_kept_as_written_beside_their_key_R_REG_2() -> None:
    [record] = parse_rne(
        f"{MINIMAL}\n1001;DUPONT; Jean-François ;05/03/1961;28/06/2020\n".encode(), RneFileType.CM
    ).records
    assert (record.given_names, record.given_key) == ("Jean-François", "JEAN FRANCOIS")


def test_a_header_with_a_stray_quote_is_refused_naming_the_header_line_R_REG_1() -> None:
    with pytest.raises(RneFormatError) as refused:
        parse_rne(f'{MINIMAL};"Note\n'.encode(), RneFileType.CM)
    assert str(refused.value) == 'header line: unbalanced or stray quote (") in the line'


@pytest.mark.parametrize(
    ("header", "absent"),
    [
        (MINIMAL.replace(";Date de naissance", ""), "DATE DE NAISSANCE"),
        (
            MINIMAL.replace(";Date de naissance", "").replace(";Prénom de l'élu", ""),
            "PRENOM DE L ELU, DATE DE NAISSANCE",
        ),
        (
            MINIMAL.replace("Code de la commune;", "").replace(";Date de naissance", ""),
            "DATE DE NAISSANCE, CODE DE LA COMMUNE",
        ),
    ],
)
def test_a_header_lacking_columns_names_exactly_those_it_lacks_R_REG_1(header: str, absent: str) -> None:
    with pytest.raises(RneFormatError) as refused:
        parse_rne(f"{header}\n".encode(), RneFileType.CM)
    assert str(refused.value) == f"header of a cm file lacks the columns {absent}"


@pytest.mark.parametrize(
    "siren", ["N° SIREN", "N°SIREN", "Nº SIREN", "NºSIREN", "N SIREN", "No SIREN", "SIREN"]
)
def test_the_siren_column_is_found_however_its_number_sign_is_written_R_REG_1(siren: str) -> None:
    header = f"Code du département;{siren};Libellé de l'EPCI;{TAIL}"
    data = f"{header}\n01;200069193;CC de la Dombes;ROUX;Anne;F;02/02/1972;1;a;01/07/2021;;;FR\n".encode()
    [record] = parse_rne(data, RneFileType.EPCI).records
    assert record.collectivite_code == "200069193"


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        (MINIMAL + ";a,b,c;d,e,f;g,h,i;j,k,l", ";"),  # 8 semicolons, 8 commas: a tie reads as semicolons
        (MINIMAL + ";Note, 1", ";"),  # a comma inside a column name of a semicolon file
        (MINIMAL.replace(";", ",") + ",Note;1", ","),  # and a semicolon inside one of a comma file
    ],
)
def test_the_delimiter_is_the_one_the_header_uses_most_semicolon_on_a_tie_R_REG_1(
    header: str, delimiter: str
) -> None:
    width = header.count(delimiter) + 1
    row = delimiter.join(["1001", "DUPONT", "Élise", "05/03/1961", "28/06/2020", *[""] * (width - 5)])
    parsed = parse_rne(f"{header}\n{row}\n".encode(), RneFileType.CM)
    assert parsed.delimiter == delimiter
    assert [r.family_name for r in parsed.records] == ["DUPONT"]


def test_an_empty_commune_code_stays_empty_not_00000_R_REG_1() -> None:
    assert (pad_commune_code(""), pad_commune_code("  "), pad_commune_code(" 1 ")) == ("", "", "00001")
