"""R-PUB-1: the public CSV is neutralised against formula injection; list scoping by role."""

from __future__ import annotations

import uuid

import pytest
from dossier.adapters.csv_export import neutralise, to_csv
from dossier.adapters.repository import DossierFilter
from dossier.use_cases.access import Caller
from dossier.use_cases.queries import scope
from servicekit.errors import Forbidden


@pytest.mark.parametrize("cell", ["=1+1", "+33", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_apostrophe_R_PUB_1(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Martin", "Jean-Luc", "1 500", "", "'quoted", " =spaced"])
def test_an_ordinary_cell_is_left_alone_R_PUB_1(cell: str) -> None:
    assert neutralise(cell) == cell


def test_csv_has_a_header_and_neutralised_quoted_cells_R_PUB_1() -> None:
    text = to_csv(("family_name", "cost_cents"), [("=cmd|' /C calc'!A0", 56000), ("Durand, Marie", None)])
    assert text.splitlines() == ["family_name,cost_cents", "'=cmd|' /C calc'!A0,56000", '"Durand, Marie",']


def test_an_organisme_lists_only_its_own_siret_and_an_elu_only_their_own() -> None:
    organisme = Caller("organisme", "u", siret="12345678900011")
    elu = Caller("elu", "e", elu_id=uuid.uuid4())
    assert scope([organisme], DossierFilter()).siret == "12345678900011"
    assert scope([elu], DossierFilter()).elu_id == elu.elu_id
    with pytest.raises(Forbidden):
        scope([organisme], DossierFilter(siret="99999999900019"))
    with pytest.raises(Forbidden):
        scope([elu], DossierFilter(elu_id=uuid.uuid4()))
    assert scope([Caller("agent", "a")], DossierFilter(siret="99999999900019")).siret == "99999999900019"


def test_a_token_with_two_roles_gets_one_scope_not_the_union() -> None:
    organisme = Caller("organisme", "u", siret="12345678900011")
    elu = Caller("elu", "e", elu_id=uuid.uuid4())
    scoped = scope([organisme, elu], DossierFilter())
    assert scoped.siret == "12345678900011" and scoped.elu_id is None
