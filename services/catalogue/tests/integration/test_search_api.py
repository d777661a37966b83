"""Public search on a small French corpus: stemming and accents, filters, facets, keyset pages, distance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
from catalogue.adapters.search import SqlOfferIndex, open_search_pool
from catalogue.domain.search import Position, SearchFilters, SearchResult, SortOrder
from servicekit.db import plain_url


def place(
    city: str, insee: str, postal: str, department: str, region: str, lat: float, lon: float
) -> dict[str, Any]:
    return {"commune_insee": insee, "postal_code": postal, "city": city, "department": department,
            "region": region, "lat": lat, "lon": lon}  # fmt: skip


LYON = place("Lyon", "69123", "69001", "69", "84", 45.764, 4.836)
VILLEURBANNE = place("Villeurbanne", "69266", "69100", "69", "84", 45.771, 4.890)
GRENOBLE = place("Grenoble", "38185", "38000", "38", "84", 45.188, 5.724)
BORDEAUX = place("Bordeaux", "33063", "33000", "33", "75", 44.838, -0.579)
PARIS = place("Paris", "75056", "75001", "75", "11", 48.857, 2.352)
MARSEILLE = place("Marseille", "13055", "13001", "13", "93", 43.296, 5.370)
LILLE = place("Lille", "59350", "59000", "59", "32", 50.629, 3.057)
RENNES = place("Rennes", "35238", "35000", "35", "53", 48.117, -1.678)

CORPUS: dict[str, dict[str, Any]] = {
    "statut": {"title": "Statut de l'Élu local : droits et devoirs", "theme_code": "FAL-02", "location": LYON,
               "start": date(2027, 2, 1)},
    "finance": {"title": "Finance locale et budget communal", "theme_code": "FAL-03", "location": BORDEAUX,
                "start": date(2027, 3, 1)},
    "nouveaux": {"title": "Les finances locales pour les nouveaux élus", "theme_code": "FAL-03",
                 "modality": "remote", "location": None, "start": date(2027, 4, 1)},
    "marches": {"title": "Marchés publics : les fondamentaux", "theme_code": "FAL-04", "modality": "mixed",
                "location": VILLEURBANNE, "start": date(2027, 5, 3)},
    "parole": {"title": "Prise de parole en public", "theme_code": "EPE-02", "location": PARIS,
               "start": date(2027, 6, 1)},
    "crise": {"title": "Communication de crise", "theme_code": "EPE-01", "location": MARSEILLE,
              "start": date(2027, 7, 1)},
    "urbanisme": {"title": "Urbanisme et plan local d'urbanisme intercommunal", "theme_code": "CCO-01",
                  "location": GRENOBLE, "start": date(2027, 8, 2)},
    "bilan": {"title": "Bilan de compétences pour élus en fin de mandat", "kind": "reinsertion",
              "theme_code": None, "certification_code": "BILAN-COMPETENCES", "location": LYON,
              "start": date(2027, 9, 1)},
    "penal": {"title": "Responsabilité pénale de l'élu", "theme_code": "FAL-05", "location": LILLE,
              "start": date(2027, 10, 1)},
    "conflits": {"title": "Gestion des conflits et médiation", "theme_code": "EPE-05", "location": RENNES,
                 "hours": "3.5", "price_ht_cents": 21_000, "start": date(2027, 11, 2)},
    "reseaux": {"title": "Réseaux sociaux : la communication numérique des élus", "theme_code": "EPE-04",
                "modality": "remote", "location": None, "start": date(2027, 12, 1)},
}  # fmt: skip


@pytest.fixture(scope="module")
async def corpus(start_catalogue: Callable[..., Any], siret: Callable[[], str]) -> AsyncIterator[Any]:
    """The corpus published by two organismes, plus a draft and a withdrawn offer nobody must find."""
    async with start_catalogue() as catalogue:
        first = await catalogue.accredited(siret(), "Institut des élus du Rhône")
        second = await catalogue.accredited(siret(), "Académie de l'action locale")
        ids: dict[str, str] = {}
        for number, (name, spec) in enumerate(CORPUS.items()):
            fields = {key: value for key, value in spec.items() if key != "start"}
            fields.setdefault("modality", "in_person")
            seller = first if number % 2 == 0 else second
            offer = await catalogue.published(seller, start=spec["start"], **fields)
            ids[name] = offer["id"]
        await catalogue.offer(first, title="Brouillon sur les finances locales")
        withdrawn = await catalogue.published(first, title="Finances locales retirées")
        await catalogue.client.post(
            f"/v1/offers/{withdrawn['id']}/withdraw", headers=catalogue.organisme(first)
        )
        catalogue.ids = ids
        catalogue.sellers = (first, second)
        yield catalogue


async def found(catalogue: Any, **params: Any) -> list[str]:
    """Names of the corpus offers a search returns (first page, up to 100), in order."""
    response = await catalogue.client.get("/v1/offers", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    names = {offer_id: name for name, offer_id in catalogue.ids.items()}
    return [names.get(item["id"], item["title"]) for item in response.json()["items"]]


async def test_words_match_without_accents_and_across_plurals(corpus: Any) -> None:
    assert "statut" in await found(corpus, q="elus")
    assert set(await found(corpus, q="elus")) == set(await found(corpus, q="Élus"))
    assert set(await found(corpus, q="élu")) == set(await found(corpus, q="elus"))
    assert set(await found(corpus, q="finances locales")) == {"finance", "nouveaux"}
    assert await found(corpus, q="marches publics") == ["marches"]
    assert await found(corpus, q="médiation") == ["conflits"]
    assert await found(corpus, q="mediations") == ["conflits"]


async def test_drafts_and_withdrawn_offers_are_never_found(corpus: Any) -> None:
    titles = await found(corpus, q="finances")
    assert "Brouillon sur les finances locales" not in titles
    assert "Finances locales retirées" not in titles


async def test_relevance_puts_title_matches_first(corpus: Any) -> None:
    response = await corpus.client.get("/v1/offers", params={"q": "communication"})
    assert response.json()["sort"] == "relevance"
    assert set(await found(corpus, q="communication")) == {"crise", "reseaux"}


async def test_each_filter_narrows_the_results(corpus: Any) -> None:
    assert set(await found(corpus, department="69")) == {"statut", "marches", "bilan"}
    assert set(await found(corpus, region="84")) == {"statut", "marches", "bilan", "urbanisme"}
    assert set(await found(corpus, modality="remote")) == {"nouveaux", "reseaux"}
    assert await found(corpus, kind="reinsertion") == ["bilan"]
    assert set(await found(corpus, theme="FAL-03")) == {"finance", "nouveaux"}
    assert await found(corpus, max_price_cents=21_000) == ["conflits"]
    assert set(await found(corpus, organisme=corpus.sellers[1])) == {
        "finance", "marches", "crise", "bilan", "conflits"
    }  # fmt: skip
    window = await found(corpus, starts_after="2027-03-01", starts_before="2027-05-03")
    assert window == ["finance", "nouveaux", "marches"]


async def test_filters_combine(corpus: Any) -> None:
    assert await found(corpus, q="elus", department="69", kind="mandate") == ["statut"]
    assert await found(corpus, region="84", modality="mixed", starts_after="2027-05-01") == ["marches"]
    assert await found(corpus, q="finances locales", modality="remote", max_price_cents=56_000) == [
        "nouveaux"
    ]
    assert await found(corpus, q="urbanisme", department="69") == []


async def test_facets_count_the_matching_offers(corpus: Any) -> None:
    page = (await corpus.client.get("/v1/offers", params={"region": "84", "limit": 1})).json()
    assert page["total"] == 4
    assert len(page["items"]) == 1
    facets = {name: {f["value"]: f["count"] for f in counts} for name, counts in page["facets"].items()}
    assert facets["department"] == {"69": 3, "38": 1}
    assert facets["modality"] == {"in_person": 3, "mixed": 1}
    assert facets["theme"] == {"FAL-02": 1, "FAL-04": 1, "CCO-01": 1}


async def test_distance_sort_starts_nearest_and_puts_remote_offers_last(corpus: Any) -> None:
    response = await corpus.client.get(
        "/v1/offers", params={"near": "45.764,4.836", "sort": "distance", "limit": 100}
    )
    items = response.json()["items"]
    names = {offer_id: name for name, offer_id in corpus.ids.items()}
    order = [names[item["id"]] for item in items]
    assert set(order[:2]) == {"statut", "bilan"}
    assert order[2:4] == ["marches", "urbanisme"]
    assert set(order[-2:]) == {"nouveaux", "reseaux"}
    assert [item["distance_km"] for item in items[-2:]] == [None, None]
    assert 4 < items[2]["distance_km"] < 6
    within = await found(corpus, near="45.764,4.836", radius_km=10, sort="distance")
    assert set(within) == {"statut", "bilan", "marches"}


async def test_pages_follow_each_other_without_duplicates_or_gaps(corpus: Any) -> None:
    for sort, params in (
        ("start_date", {}),
        ("price", {}),
        ("relevance", {"q": "elus OR finances OR communication"}),
        ("distance", {"near": "48.857,2.352"}),
    ):
        seen: list[str] = []
        cursor = None
        while True:
            query = {"limit": 2, "sort": sort, **params, **({"cursor": cursor} if cursor else {})}
            page = (await corpus.client.get("/v1/offers", params=query)).json()
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        everything = (
            await corpus.client.get("/v1/offers", params={"limit": 100, "sort": sort, **params})
        ).json()
        assert seen == [item["id"] for item in everything["items"]], sort
        assert len(seen) == len(set(seen)) == everything["total"]


async def test_bad_queries_are_problems_not_errors(corpus: Any) -> None:
    for params in (
        {"sort": "distance"},
        {"near": "north"},
        {"near": "91,2"},
        {"radius_km": 10},
        {"cursor": "bm90LWEtY3Vyc29y"},
        {"department": "999"},
    ):
        response = await corpus.client.get("/v1/offers", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
    first = (await corpus.client.get("/v1/offers", params={"limit": 1, "sort": "price"})).json()
    other_sort = await corpus.client.get(
        "/v1/offers", params={"sort": "start_date", "cursor": first["next_cursor"]}
    )
    assert other_sort.status_code == 422


async def test_paging_while_offers_are_added_has_no_duplicates_or_gaps(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    before = []
    for month in range(1, 10):
        offer = await catalogue.published(
            seller, title=f"Finances locales, module {month}", start=date(2027, month, 1)
        )
        before.append(offer["id"])
    seen: list[str] = []
    cursor = None
    added = 0
    while True:
        params = {"limit": 2, "q": "finances", **({"cursor": cursor} if cursor else {})}
        page = (await catalogue.client.get("/v1/offers", params=params)).json()
        seen.extend(item["id"] for item in page["items"])
        # New offers land before and after the cursor, in the order and the text searched.
        for month in (1, 12):
            await catalogue.published(
                seller, title=f"Finances locales, ajout {added}", start=date(2027, month, 15)
            )
            added += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert set(before) <= set(seen)


async def test_text_searches_answer_the_same_on_generic_plans(corpus: Any) -> None:
    """The pool of searches with words keeps generic plans (planned once per statement shape); each page,
    total and facet count is the same as with plans made for the values."""
    dsn = plain_url(corpus.settings.database_url)
    generic = await open_search_pool(dsn, max_size=1, generic_plans=True)
    custom = await open_search_pool(dsn, max_size=1)
    try:
        async with generic.acquire() as connection:
            assert await connection.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        async with custom.acquire() as connection:
            assert await connection.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
        on_generic, on_custom = SqlOfferIndex(generic, custom), SqlOfferIndex(custom, custom)
        searches = [
            (SearchFilters(q="elus"), SortOrder.RELEVANCE),
            (SearchFilters(q="finances locales", modality="remote"), SortOrder.RELEVANCE),
            (SearchFilters(q="elus OR finances", region="84"), SortOrder.START_DATE),
            (SearchFilters(q="elus OR communication", max_price_cents=60_000), SortOrder.PRICE),
            (SearchFilters(q="elus", near=(45.764, 4.836), department="69"), SortOrder.DISTANCE),
            (SearchFilters(q="elus", starts_after=date(2027, 1, 1), starts_before=date(2027, 9, 1)),
             SortOrder.RELEVANCE),
        ]  # fmt: skip
        # Seven runs: past the five after which PostgreSQL would otherwise weigh a generic plan.
        for _ in range(7):
            for filters, sort in searches:
                expected = await on_custom.search(filters, sort=sort, after=None, limit=2)
                assert _summary(await on_generic.search(filters, sort=sort, after=None, limit=2)) == (
                    _summary(expected)
                ), filters
                assert expected.total > 0, filters
                if expected.has_more:
                    last = expected.hits[-1]
                    after = Position(key=last.sort_key, offer_id=last.id)
                    assert _summary(
                        await on_generic.search(filters, sort=sort, after=after, limit=2)
                    ) == _summary(await on_custom.search(filters, sort=sort, after=after, limit=2))
    finally:
        await generic.close()
        await custom.close()


def _summary(result: SearchResult) -> tuple[Any, ...]:
    return ([hit.id for hit in result.hits], result.has_more, result.total, result.facets)


async def test_the_query_string_is_read_as_fastapi_read_it(corpus: Any) -> None:
    """The search validates its query string itself (one pass): unknown parameters are ignored, a repeated one
    counts for its last value, and a bad value is a problem naming ``query.<parameter>``."""
    in_the_rhone = {"statut", "marches", "bilan"}
    assert set(await found(corpus, department="69", utm_source="newsletter")) == in_the_rhone
    response = await corpus.client.get("/v1/offers?department=33&department=69&limit=100")
    names = {offer_id: name for name, offer_id in corpus.ids.items()}
    assert {names.get(item["id"]) for item in response.json()["items"]} == in_the_rhone
    for params, field in (
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"max_price_cents": -1}, "query.max_price_cents"),
        ({"kind": "leisure"}, "query.kind"),
        ({"starts_after": "2027-02-30"}, "query.starts_after"),
        ({"radius_km": 0, "near": "45.7,4.8"}, "query.radius_km"),
    ):
        response = await corpus.client.get("/v1/offers", params=params)
        assert response.status_code == 422, params
        assert [error["field"] for error in response.json()["errors"]] == [field], params
