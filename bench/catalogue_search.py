"""Catalogue search benchmark: 100,000 published offers, text + filters at 200 req/s, open loop.

Runs on its own: starts the local stack if ``DIFE_PG_ADMIN_URL`` / ``KAFKA_BOOTSTRAP_SERVERS`` are not set,
creates a fresh database with the catalogue's real migrations (``--reuse`` keeps it and only migrates it),
generates offers across every département (French titles from the répertoire's themes and CPF
certifications, in and around each préfecture), starts the catalogue under uvicorn (one worker) and sends
the search page's query mix with vegeta (Go, built by ``common.ensure_vegeta``): open loop at a fixed rate,
so a slow server cannot slow the load down and hide its own queueing. Each query has text and one or two
filters, 20 % sort by distance, facets are always on. Reports p50/p95/p99, the achieved rate, errors, the
server's CPU per search (utime + stime of the uvicorn process from /proc) and the database's (its backends),
then a ramp of short runs finds the highest rate whose p95 stays within 30 ms.

    uv run python bench/catalogue_search.py [--reuse] [--rate 200] [--duration 30] [--ramp 300 400 …]
        [--profile stacks.txt]   # py-spy's collapsed stacks of the server during the measured run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from stdnum import luhn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from common import (  # noqa: E402
    cpu_seconds,
    ensure_vegeta,
    free_port,
    load_average,
    stack_env,
    write_result,
)

CATALOGUE = REPO / "services" / "catalogue"
BENCH_DATABASE = "catalogue_bench"
TARGET_P95_MS, TARGET_P99_MS = 30, 60


@dataclass(frozen=True, slots=True)
class Place:
    department: str
    region: str
    city: str
    commune_insee: str
    postal_code: str
    lat: float
    lon: float


# The préfecture of every département: code, région (INSEE), city, commune INSEE code, postal code, lat, lon.
PREFECTURES: tuple[Place, ...] = tuple(
    Place(*row)
    for row in (
        ("01", "84", "Bourg-en-Bresse", "01053", "01000", 46.205, 5.225),
        ("02", "32", "Laon", "02408", "02000", 49.564, 3.620),
        ("03", "84", "Moulins", "03190", "03000", 46.566, 3.333),
        ("04", "93", "Digne-les-Bains", "04070", "04000", 44.092, 6.236),
        ("05", "93", "Gap", "05061", "05000", 44.559, 6.079),
        ("06", "93", "Nice", "06088", "06000", 43.710, 7.262),
        ("07", "84", "Privas", "07186", "07000", 44.735, 4.599),
        ("08", "44", "Charleville-Mézières", "08105", "08000", 49.773, 4.720),
        ("09", "76", "Foix", "09122", "09000", 42.965, 1.607),
        ("10", "44", "Troyes", "10387", "10000", 48.297, 4.074),
        ("11", "76", "Carcassonne", "11069", "11000", 43.213, 2.349),
        ("12", "76", "Rodez", "12202", "12000", 44.350, 2.575),
        ("13", "93", "Marseille", "13055", "13001", 43.296, 5.370),
        ("14", "28", "Caen", "14118", "14000", 49.182, -0.370),
        ("15", "84", "Aurillac", "15014", "15000", 44.926, 2.440),
        ("16", "75", "Angoulême", "16015", "16000", 45.648, 0.156),
        ("17", "75", "La Rochelle", "17300", "17000", 46.160, -1.151),
        ("18", "24", "Bourges", "18033", "18000", 47.081, 2.399),
        ("19", "75", "Tulle", "19272", "19000", 45.267, 1.772),
        ("2A", "94", "Ajaccio", "2A004", "20000", 41.919, 8.738),
        ("2B", "94", "Bastia", "2B033", "20200", 42.697, 9.450),
        ("21", "27", "Dijon", "21231", "21000", 47.322, 5.041),
        ("22", "53", "Saint-Brieuc", "22278", "22000", 48.514, -2.765),
        ("23", "75", "Guéret", "23096", "23000", 46.171, 1.871),
        ("24", "75", "Périgueux", "24322", "24000", 45.184, 0.721),
        ("25", "27", "Besançon", "25056", "25000", 47.238, 6.024),
        ("26", "84", "Valence", "26362", "26000", 44.933, 4.892),
        ("27", "28", "Évreux", "27229", "27000", 49.024, 1.151),
        ("28", "24", "Chartres", "28085", "28000", 48.446, 1.489),
        ("29", "53", "Quimper", "29232", "29000", 47.996, -4.102),
        ("30", "76", "Nîmes", "30189", "30000", 43.837, 4.360),
        ("31", "76", "Toulouse", "31555", "31000", 43.605, 1.444),
        ("32", "76", "Auch", "32013", "32000", 43.646, 0.586),
        ("33", "75", "Bordeaux", "33063", "33000", 44.838, -0.579),
        ("34", "76", "Montpellier", "34172", "34000", 43.611, 3.877),
        ("35", "53", "Rennes", "35238", "35000", 48.117, -1.678),
        ("36", "24", "Châteauroux", "36044", "36000", 46.811, 1.686),
        ("37", "24", "Tours", "37261", "37000", 47.394, 0.685),
        ("38", "84", "Grenoble", "38185", "38000", 45.188, 5.724),
        ("39", "27", "Lons-le-Saunier", "39300", "39000", 46.674, 5.555),
        ("40", "75", "Mont-de-Marsan", "40192", "40000", 43.890, -0.500),
        ("41", "24", "Blois", "41018", "41000", 47.586, 1.335),
        ("42", "84", "Saint-Étienne", "42218", "42000", 45.434, 4.390),
        ("43", "84", "Le Puy-en-Velay", "43157", "43000", 45.043, 3.885),
        ("44", "52", "Nantes", "44109", "44000", 47.218, -1.554),
        ("45", "24", "Orléans", "45234", "45000", 47.903, 1.909),
        ("46", "76", "Cahors", "46042", "46000", 44.448, 1.441),
        ("47", "75", "Agen", "47001", "47000", 44.203, 0.616),
        ("48", "76", "Mende", "48095", "48000", 44.518, 3.500),
        ("49", "52", "Angers", "49007", "49000", 47.478, -0.563),
        ("50", "28", "Saint-Lô", "50502", "50000", 49.116, -1.091),
        ("51", "44", "Châlons-en-Champagne", "51108", "51000", 48.957, 4.365),
        ("52", "44", "Chaumont", "52121", "52000", 48.111, 5.139),
        ("53", "52", "Laval", "53130", "53000", 48.073, -0.770),
        ("54", "44", "Nancy", "54395", "54000", 48.692, 6.184),
        ("55", "44", "Bar-le-Duc", "55029", "55000", 48.772, 5.160),
        ("56", "53", "Vannes", "56260", "56000", 47.658, -2.760),
        ("57", "44", "Metz", "57463", "57000", 49.120, 6.176),
        ("58", "27", "Nevers", "58194", "58000", 46.990, 3.159),
        ("59", "32", "Lille", "59350", "59000", 50.629, 3.057),
        ("60", "32", "Beauvais", "60057", "60000", 49.430, 2.081),
        ("61", "28", "Alençon", "61001", "61000", 48.432, 0.091),
        ("62", "32", "Arras", "62041", "62000", 50.291, 2.777),
        ("63", "84", "Clermont-Ferrand", "63113", "63000", 45.778, 3.087),
        ("64", "75", "Pau", "64445", "64000", 43.296, -0.370),
        ("65", "76", "Tarbes", "65440", "65000", 43.233, 0.078),
        ("66", "76", "Perpignan", "66136", "66000", 42.699, 2.895),
        ("67", "44", "Strasbourg", "67482", "67000", 48.573, 7.752),
        ("68", "44", "Colmar", "68066", "68000", 48.079, 7.358),
        ("69", "84", "Lyon", "69123", "69001", 45.764, 4.836),
        ("70", "27", "Vesoul", "70550", "70000", 47.622, 6.155),
        ("71", "27", "Mâcon", "71270", "71000", 46.307, 4.828),
        ("72", "52", "Le Mans", "72181", "72000", 48.008, 0.199),
        ("73", "84", "Chambéry", "73065", "73000", 45.564, 5.917),
        ("74", "84", "Annecy", "74010", "74000", 45.899, 6.129),
        ("75", "11", "Paris", "75056", "75001", 48.857, 2.352),
        ("76", "28", "Rouen", "76540", "76000", 49.443, 1.099),
        ("77", "11", "Melun", "77288", "77000", 48.540, 2.660),
        ("78", "11", "Versailles", "78646", "78000", 48.805, 2.130),
        ("79", "75", "Niort", "79191", "79000", 46.323, -0.465),
        ("80", "32", "Amiens", "80021", "80000", 49.894, 2.296),
        ("81", "76", "Albi", "81004", "81000", 43.929, 2.148),
        ("82", "76", "Montauban", "82121", "82000", 44.018, 1.355),
        ("83", "93", "Toulon", "83137", "83000", 43.124, 5.928),
        ("84", "93", "Avignon", "84007", "84000", 43.949, 4.806),
        ("85", "52", "La Roche-sur-Yon", "85191", "85000", 46.670, -1.426),
        ("86", "75", "Poitiers", "86194", "86000", 46.580, 0.340),
        ("87", "75", "Limoges", "87085", "87000", 45.834, 1.261),
        ("88", "44", "Épinal", "88160", "88000", 48.172, 6.450),
        ("89", "27", "Auxerre", "89024", "89000", 47.798, 3.567),
        ("90", "27", "Belfort", "90010", "90000", 47.638, 6.863),
        ("91", "11", "Évry-Courcouronnes", "91228", "91000", 48.629, 2.441),
        ("92", "11", "Nanterre", "92050", "92000", 48.892, 2.207),
        ("93", "11", "Bobigny", "93008", "93000", 48.908, 2.440),
        ("94", "11", "Créteil", "94028", "94000", 48.790, 2.455),
        ("95", "11", "Cergy", "95127", "95000", 49.036, 2.076),
        ("971", "01", "Basse-Terre", "97105", "97100", 15.998, -61.726),
        ("972", "02", "Fort-de-France", "97209", "97200", 14.616, -61.059),
        ("973", "03", "Cayenne", "97302", "97300", 4.922, -52.313),
        ("974", "04", "Saint-Denis", "97411", "97400", -20.882, 55.450),
        ("976", "06", "Mamoudzou", "97611", "97600", -12.781, 45.228),
    )
)

MANDATE_TITLES: dict[str, tuple[str, ...]] = {
    "FAL-01": (
        "Les institutions locales après la loi 3DS",
        "Comprendre l'organisation territoriale française",
    ),
    "FAL-02": (
        "Statut de l'élu local : droits, devoirs et indemnités",
        "Le rôle du maire et de ses adjoints",
    ),
    "FAL-03": (
        "Finances locales : construire et voter le budget",
        "Préparer le débat d'orientation budgétaire",
        "Fiscalité locale et dotations de l'État",
    ),
    "FAL-04": ("Marchés publics : les fondamentaux de la commande publique", "Rédiger un cahier des charges"),
    "FAL-05": (
        "Responsabilité pénale des élus locaux",
        "Prévenir le risque juridique dans la gestion locale",
    ),
    "FAL-06": ("Intercommunalité : compétences et gouvernance", "Réussir le pacte financier et fiscal"),
    "FAL-07": (
        "Manager les agents de la fonction publique territoriale",
        "Le dialogue social en collectivité",
    ),
    "FAL-08": ("Déontologie de l'élu et conflits d'intérêts", "Laïcité et neutralité du service public"),
    "FAL-09": ("Animer une séance du conseil municipal", "Les délibérations : forme, vote et contrôle"),
    "CCO-01": ("Urbanisme : élaborer le PLU intercommunal", "Instruire les permis de construire"),
    "CCO-02": ("Transition écologique des territoires", "Rénovation énergétique des bâtiments publics"),
    "CCO-03": ("Action sociale : piloter le CCAS", "Santé publique et déserts médicaux"),
    "CCO-04": ("Développement économique local et commerce de centre-bourg", "Tourisme et attractivité"),
    "CCO-05": ("Petite enfance et politique éducative locale", "Restauration scolaire et loi EGalim"),
    "CCO-06": ("Politique culturelle de la commune", "Soutenir la vie associative et sportive"),
    "CCO-07": ("Mobilités rurales et transport à la demande", "Gestion de la voirie communale"),
    "CCO-08": ("Habitat indigne et politique du logement", "Programme local de l'habitat"),
    "CCO-09": ("Eau et assainissement : le transfert de compétence", "Réduire et valoriser les déchets"),
    "CCO-10": ("Plan communal de sauvegarde et gestion de crise", "Prévention de la délinquance"),
    "CCO-11": ("Agriculture et alimentation : le projet alimentaire territorial", "Ruralité et forêts"),
    "EPE-01": ("Communication de crise pour les élus", "Réussir sa communication municipale"),
    "EPE-02": ("Prise de parole en public", "Media training : face aux journalistes"),
    "EPE-03": ("Conduite de projet pour les élus", "Animer une équipe municipale"),
    "EPE-04": ("Réseaux sociaux et communication numérique des élus", "Outils bureautiques pour élus"),
    "EPE-05": ("Gestion des conflits et médiation", "Négocier avec les partenaires locaux"),
    "EPE-06": ("Gestion du temps et conciliation mandat-vie professionnelle", "Organiser son mandat"),
    "EPE-07": ("Anglais pour les élus en coopération européenne", "Jumelages et coopération décentralisée"),
}
AUDIENCES = (
    "pour les élus des petites communes",
    "pour les nouveaux élus",
    "en intercommunalité",
    "niveau perfectionnement",
    "pour les adjoints",
    "session intensive",
    "en milieu rural",
    "pour les conseillers départementaux",
)
REINSERTION = (
    ("Bilan de compétences pour élus en fin de mandat", "BILAN-COMPETENCES"),
    ("Validation des acquis de l'expérience (VAE) des élus", "VAE"),
    ("Titre professionnel de responsable de petite et moyenne structure", "RNCP32000"),
    ("Certificat de compétences en management de projet", "RS5487"),
    ("Permis de conduire catégorie B", "PERMIS-B"),
    ("Titre professionnel de gestionnaire de paie", "RNCP35139"),
    ("Certification en gestion comptable et financière", "RNCP36000"),
    ("Préparation au TOEIC : anglais professionnel", "RS6178"),
)
ORGANISME_NAMES = (
    "Institut de formation des élus",
    "Centre de formation des élus locaux",
    "Association des maires formation",
    "Territoires & Compétences",
    "Cabinet Public Conseil",
    "Académie de l'action locale",
    "Formation Citoyenneté Territoires",
)
SUMMARIES = (
    "apports juridiques, études de cas et échanges de pratiques.",
    "une journée pour maîtriser le cadre réglementaire et les outils.",
    "méthodes concrètes, retours d'expérience de collectivités et mises en situation.",
    "formation-action en petit groupe, avec un intervenant praticien.",
    "tour d'horizon des obligations légales et des bonnes pratiques.",
    "ateliers pratiques et exercices filmés, en présentiel ou à distance.",
)
OBJECTIVES = (
    "Maîtriser le cadre réglementaire ; appliquer les méthodes à sa collectivité.",
    "Identifier les acteurs ; construire un plan d'action ; évaluer les résultats.",
    "Connaître ses droits et obligations ; sécuriser ses décisions.",
    "Gagner en aisance ; convaincre ; conduire le changement.",
)
SEARCH_TERMS = (
    "finances locales",
    "budget",
    "marchés publics",
    "élus",
    "statut de l'élu",
    "urbanisme",
    "prise de parole",
    "communication",
    "conflits",
    "intercommunalité",
    "transition écologique",
    "responsabilité pénale",
    "bilan de compétences",
    "petite enfance",
    "conseil municipal",
    "gestion de crise",
)


def siret(rng: random.Random) -> str:
    siren = f"{rng.randrange(10**7, 10**8)}"
    siren += luhn.calc_check_digit(siren)
    nic = f"{siren}{rng.randrange(1000, 9999):04d}"
    return nic + luhn.calc_check_digit(nic)


def generate(
    count: int, seed: int = 2026
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Organismes, offers and sessions as rows for COPY, deterministic for a seed."""
    rng = random.Random(seed)
    organisme_rows = []
    sirets = []
    for number in range(max(50, count // 80)):
        place = rng.choice(PREFECTURES)
        code = siret(rng)
        sirets.append(code)
        name = f"{rng.choice(ORGANISME_NAMES)} {place.city} {number}"
        organisme_rows.append(
            (code, name, f"{rng.randrange(10**10, 10**11)}", None, place.postal_code, place.city)
        )
    theme_labels = {code: title for code, title in _theme_labels().items()}
    offer_rows = []
    session_rows = []
    today = date.today()
    for _ in range(count):
        offer_id = uuid.uuid4()
        place = rng.choice(PREFECTURES)
        modality = rng.choices(("in_person", "remote", "mixed"), weights=(6, 2, 2))[0]
        if rng.random() < 0.85:
            kind = "mandate"
            theme = rng.choice(tuple(MANDATE_TITLES))
            title = f"{rng.choice(MANDATE_TITLES[theme])} {rng.choice(AUDIENCES)}"
            certification = None
        else:
            kind = "reinsertion"
            theme = None
            title, certification = rng.choice(REINSERTION)
        hours = Decimal(rng.choice(("3.5", "7", "7", "10.5", "14", "21", "24", "35")))
        price = int(hours * rng.randrange(3_000, 8_001, 100))
        next_start = None
        for _ in range(rng.randint(1, 4)):
            start = today + timedelta(days=rng.randrange(1, 365))
            end = start + timedelta(days=max(0, int(hours // 7) - 1))
            capacity = rng.randint(6, 15) if kind == "mandate" else rng.randint(6, 30)
            session_rows.append((uuid.uuid4(), offer_id, kind, start, end, capacity, 0, "open"))
            next_start = start if next_start is None or start < next_start else next_start
        located = modality != "remote"
        offer_rows.append(
            (
                offer_id,
                rng.choice(sirets),
                "published",
                kind,
                title,
                f"{title} : {rng.choice(SUMMARIES)}",
                rng.choice(OBJECTIVES),
                theme,
                theme_labels.get(theme or ""),
                certification,
                hours,
                price,
                0,
                price,
                modality,
                place.commune_insee if located else None,
                place.postal_code if located else None,
                place.city if located else None,
                place.department if located else None,
                place.region if located else None,
                place.lat + rng.uniform(-0.3, 0.3) if located else None,
                place.lon + rng.uniform(-0.3, 0.3) if located else None,
                next_start,
                datetime.now(UTC),
            )
        )
    return organisme_rows, offer_rows, session_rows


def _theme_labels() -> dict[str, str]:
    from catalogue.domain.themes import REPERTOIRE

    return {theme.code: theme.label for theme in REPERTOIRE}


OFFER_COLUMNS = [
    "id", "siret", "status", "kind", "title", "summary", "objectives", "theme_code", "theme_label",
    "certification_code", "hours", "price_ht_cents", "vat_rate_bp", "price_ttc_cents", "modality",
    "commune_insee", "postal_code", "city", "department", "region", "lat", "lon", "next_start_date",
    "published_at",
]  # fmt: skip
SESSION_COLUMNS = [
    "id",
    "offer_id",
    "offer_kind",
    "start_date",
    "end_date",
    "capacity",
    "seats_taken",
    "status",
]


async def load(dsn: str, count: int) -> None:
    organisme_rows, offer_rows, session_rows = generate(count)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "organismes",
            records=organisme_rows,
            columns=["siret", "name", "nda", "street", "postal_code", "city"],
        )
        await connection.copy_records_to_table("offers", records=offer_rows, columns=OFFER_COLUMNS)
        await connection.copy_records_to_table("sessions", records=session_rows, columns=SESSION_COLUMNS)
        await connection.execute(
            """
            UPDATE offers SET open_session_starts = starts.days
            FROM (SELECT offer_id, range_agg(daterange(start_date, start_date, '[]')) AS days
                  FROM sessions WHERE status = 'open' GROUP BY offer_id) AS starts
            WHERE starts.offer_id = offers.id
            """
        )
        # The update above left a dead version of every row: compact the table as a long-lived one would be.
        await connection.execute("VACUUM (FULL, ANALYZE) offers")
        await connection.execute("VACUUM ANALYZE sessions")
    finally:
        await connection.close()


def stack_urls() -> tuple[str, str]:
    """PostgreSQL admin URL and Kafka bootstrap: from the environment, else from the local stack (started)."""
    env = stack_env()
    return env["DIFE_PG_ADMIN_URL"], env["KAFKA_BOOTSTRAP_SERVERS"]


async def prepare_database(admin_url: str, count: int, reuse: bool) -> str:
    """A database of the catalogue's schema holding ``count`` published offers; if asked and it holds them,
    the previous run's database, migrated to the current head (new indexes are built on its rows)."""
    from servicekit.migrations import upgrade_to_head

    base = admin_url.rsplit("/", 1)[0]
    dsn = f"{base}/{BENCH_DATABASE}"
    async_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    if reuse and await _offer_count(admin_url, dsn) == count:
        print(f"reusing {BENCH_DATABASE} with {count} offers (migrated to head)")
        await asyncio.to_thread(upgrade_to_head, CATALOGUE / "alembic.ini", async_url)
        return dsn
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await admin.close()
    await asyncio.to_thread(upgrade_to_head, CATALOGUE / "alembic.ini", async_url)
    started = time.perf_counter()
    await load(dsn, count)
    print(f"generated and loaded {count} offers in {time.perf_counter() - started:.1f} s")
    return dsn


async def _offer_count(admin_url: str, dsn: str) -> int | None:
    """The offers of the bench database, or None when there is no such database."""
    admin = await asyncpg.connect(admin_url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DATABASE):
            return None
    finally:
        await admin.close()
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM offers"))
    finally:
        await connection.close()


@contextlib.contextmanager
def catalogue_server(dsn: str, kafka: str, port: int, workers: int) -> Any:
    """The catalogue as it runs in production, under uvicorn; no consumers, no relay (search only)."""
    env = {
        **os.environ,
        "CATALOGUE_DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        "CATALOGUE_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "CATALOGUE_TOPIC_PREFIX": "bench.catalogue.",
        "CATALOGUE_CREATE_TOPICS": "false",
        "CATALOGUE_CONSUMERS_ENABLED": "false",
        "CATALOGUE_RELAY_ENABLED": "false",
        "CATALOGUE_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "catalogue.app:create_app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_until_up(port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise SystemExit("the catalogue did not start within 60 s")
            await asyncio.sleep(0.2)


def query_mix(rng: random.Random, count: int) -> list[dict[str, str]]:
    """Text with one or two filters, as the search page sends them."""
    queries = []
    for _ in range(count):
        params = {"q": rng.choice(SEARCH_TERMS), "limit": "20"}
        place = rng.choice(PREFECTURES)
        for _ in range(rng.choice((1, 1, 2))):
            choice = rng.randrange(6)
            if choice <= 1:
                params["department"] = place.department
            elif choice == 2:
                params["region"] = place.region
            elif choice == 3:
                params["modality"] = rng.choice(("in_person", "remote", "mixed"))
                params["region"] = place.region
            elif choice == 4:
                params["max_price_cents"] = str(rng.choice((50_000, 100_000, 200_000)))
                params["department"] = place.department
            else:
                start = date.today() + timedelta(days=rng.randrange(0, 300))
                params["starts_after"] = start.isoformat()
                params["starts_before"] = (start + timedelta(days=60)).isoformat()
                params["region"] = place.region
        if "department" in params and rng.random() < 0.2:
            params["near"] = f"{place.lat},{place.lon}"
            params["sort"] = "distance"
        queries.append(params)
    return queries


class HttpConnections:
    """Keep-alive HTTP/1.1 connections for GETs, as light as a load generator on the same machine must be:
    a general-purpose client spends more CPU per request than the server it measures."""

    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.size = size
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.free.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def close(self) -> None:
        while not self.free.empty():
            _, writer = self.free.get_nowait()
            writer.close()

    async def get(self, path: str) -> tuple[int, bytes]:
        reader, writer = await self.free.get()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
        except Exception:
            writer.close()
            self.free.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
            raise
        self.free.put_nowait((reader, writer))
        return status, body


async def open_loop(
    connections: HttpConnections, queries: list[dict[str, str]], rate: float
) -> tuple[list[float], int, list[int]]:
    """Send each query at its due time whatever the server's pace; latency counts from the due time, so
    waiting for a free connection counts too."""
    latencies: list[float] = []
    totals: list[int] = []
    errors = 0
    start = time.perf_counter() + 0.1

    async def one(index: int, params: dict[str, str]) -> None:
        nonlocal errors
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            status, body = await connections.get("/v1/offers?" + urlencode(params))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            return
        latencies.append(time.perf_counter() - due)
        if status != 200:
            errors += 1
        else:
            totals.append(int(json.loads(body)["total"]))

    await asyncio.gather(*(one(index, params) for index, params in enumerate(queries)))
    return latencies, errors, totals


def write_targets(path: Path, base_url: str, queries: list[dict[str, str]]) -> None:
    """One vegeta target per line (vegeta sends them in order, cycling): the query mix as URLs."""
    with path.open("w") as targets:
        for params in queries:
            targets.write(json.dumps({"method": "GET", "url": f"{base_url}/v1/offers?{urlencode(params)}"}))
            targets.write("\n")


def backend_pids(dsn: str) -> list[int]:
    """The PostgreSQL backends serving the catalogue's connections (their CPU is the database's share)."""

    async def fetch() -> list[int]:
        connection = await asyncpg.connect(dsn)
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                BENCH_DATABASE,
            )
        finally:
            await connection.close()
        return [int(row["pid"]) for row in rows]

    return asyncio.run(fetch())


def attack(
    vegeta: Path, targets: Path, rate: float, seconds: float, server_pid: int, dsn: str
) -> dict[str, Any]:
    """Open loop: vegeta sends at ``rate`` whatever the server answers (it adds workers and connections
    rather than wait) and times each request from its send. Server and database CPU come from /proc around
    the attack: the server process (utime + stime) and the PostgreSQL backends of its connections (those
    opened during the attack count from zero)."""
    load, cpu_before = load_average(), cpu_seconds(server_pid)
    database_before = sum(cpu_seconds(pid) for pid in backend_pids(dsn))
    command = [str(vegeta), "attack", "-format", "json", "-targets", str(targets), "-rate", f"{int(rate)}/1s"]
    command += ["-duration", f"{seconds}s", "-timeout", "10s", "-keepalive=true", "-http2=false"]
    attacked = subprocess.run(command, check=True, capture_output=True)
    server_cpu = cpu_seconds(server_pid) - cpu_before
    database_cpu = sum(cpu_seconds(pid) for pid in backend_pids(dsn)) - database_before
    report = json.loads(
        subprocess.run(
            [str(vegeta), "report", "-type", "json"], input=attacked.stdout, check=True, capture_output=True
        ).stdout
    )
    latencies = report["latencies"]
    requests = max(int(report["requests"]), 1)
    ok = int((report.get("status_codes") or {}).get("200", 0))
    return {
        "rate_rps": rate,
        "achieved_rps": round(report["throughput"], 1),
        "requests": report["requests"],
        "errors": report["requests"] - ok,
        "p50_ms": round(latencies["50th"] / 1e6, 3),
        "p95_ms": round(latencies["95th"] / 1e6, 3),
        "p99_ms": round(latencies["99th"] / 1e6, 3),
        "max_ms": round(latencies["max"] / 1e6, 3),
        "server_cpu_ms_per_request": round(server_cpu * 1000 / requests, 3),
        "database_cpu_ms_per_request": round(database_cpu * 1000 / requests, 3),
        "load_average_before": load,
    }


def meets_target(step: dict[str, Any]) -> bool:
    return step["p95_ms"] <= TARGET_P95_MS and not step["errors"]


def sample_matches(port: int, queries: list[dict[str, str]]) -> int:
    """The median ``total`` of a sample of the mix (checks that the searches find something)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        totals = sorted(
            int(client.get("/v1/offers", params=params).raise_for_status().json()["total"])
            for params in queries
        )
    return totals[len(totals) // 2]


def profile(seconds: float, server_pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the server (collapsed stacks, idle frames left out), for the attack's length."""
    py_spy = shutil.which("py-spy") or "py-spy"
    command = [py_spy, "record", "--pid", str(server_pid), "--duration", str(int(seconds)), "--rate", "250"]
    command += ["--format", "raw", "--output", str(output), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run(args: argparse.Namespace) -> None:
    vegeta = ensure_vegeta()
    admin_url, kafka = stack_urls()
    dsn = await prepare_database(admin_url, args.offers, args.reuse)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    rng = random.Random(7)
    warm_up, queries = query_mix(rng, 1000), query_mix(rng, 20_000)
    steps: list[dict[str, Any]] = []
    with catalogue_server(dsn, kafka, port, args.workers) as server, tempfile.TemporaryDirectory() as scratch:
        await wait_until_up(port)
        targets, warm_targets = Path(scratch) / "targets.jsonl", Path(scratch) / "warm.jsonl"
        write_targets(targets, base_url, queries)
        write_targets(warm_targets, base_url, warm_up)
        median_matches = await asyncio.to_thread(sample_matches, port, warm_up[:100])
        # Warm-up (not recorded): the read pool's connections, prepared statements, PostgreSQL's caches.
        await asyncio.to_thread(attack, vegeta, warm_targets, args.rate / 2, 5, server.pid, dsn)
        profiler = profile(args.duration, server.pid, args.profile) if args.profile else None
        measured = await asyncio.to_thread(attack, vegeta, targets, args.rate, args.duration, server.pid, dsn)
        if profiler is not None:
            profiler.wait(timeout=60)
        # Up the ramp until a rate misses the target: above the measured rate when it met the target, under
        # it when it missed (on a busy machine).
        upwards = meets_target(measured)
        for rate in sorted(args.ramp):
            if (rate > args.rate) != upwards:
                continue
            steps.append(
                await asyncio.to_thread(attack, vegeta, targets, rate, args.ramp_seconds, server.pid, dsn)
            )
            if not meets_target(steps[-1]):
                break
    within = [step["rate_rps"] for step in [measured, *steps] if meets_target(step)]
    metrics = {
        **measured,
        "median_matches": median_matches,
        "p95_target_ms": TARGET_P95_MS,
        "p99_target_ms": TARGET_P99_MS,
        "max_rps_with_p95_within_target": max(within, default=None),
        "ramp": [
            {key: step[key] for key in ("rate_rps", "achieved_rps", "p50_ms", "p95_ms", "p99_ms", "errors")}
            | {"cpu_ms": step["server_cpu_ms_per_request"], "load": step["load_average_before"][0]}
            for step in steps
        ],
    }
    params = {
        "offers": args.offers,
        "target_rate_per_s": args.rate,
        "duration_s": args.duration,
        "ramp_seconds": args.ramp_seconds,
        "mix": "q + 1-2 filters (département, région, modality, price, session window), 20 % distance sort, "
        "facets on",
        "server": f"uvicorn (uvloop, httptools), {args.workers} worker process(es), PostgreSQL 18 local",
        "load_generator": "vegeta (Go), open loop at a fixed rate, keep-alive, 20,000 distinct queries",
    }
    write_result("catalogue_search", metrics, params)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, open loop")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of measured load")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--reuse", action="store_true", help="keep the generated database of a previous run")
    parser.add_argument(
        "--ramp",
        type=int,
        nargs="*",
        default=[300, 400, 500, 600],
        help="rates tried, upwards until one misses, for the highest within the target",
    )
    parser.add_argument("--ramp-seconds", type=float, default=10)
    parser.add_argument(
        "--profile", type=Path, help="write py-spy's collapsed stacks of the server during the measured run"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
