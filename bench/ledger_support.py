"""What the rights-ledger benchmarks share: the local stack, a fresh migrated database, the app with test
keys, and realistic generated élus (French names, real communes, plausible dates).

Not a benchmark itself: ``make bench`` runs it and it only says so.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx
from common import Scratch, scratch_stack
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rights_ledger.app import create_app
from rights_ledger.settings import Settings
from servicekit import devtokens
from servicekit.migrations import upgrade_to_head
from servicekit.testing import running_app

ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = ROOT / "services" / "rights-ledger" / "alembic.ini"
ISSUER, AUDIENCE = "dife-bench", "dife"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FAMILY_NAMES = _words(
    """
    Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel Lefèbvre Leroy
    Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Müller
    Lefèvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier François Legrand Gauthier Garcia
    Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu Gautier Masson Marchand Duval Denis Dumont
    Marie Lemaire Noël Meyer Dufour Meunier Brun Blanchard Giraud Joly Rivière Lucas Brunet Gaillard
    Barbier Arnaud Martinez Gérard Roche Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre
    Aubert Lemoine Renaud Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet
    Rolland Le-Gall Guillaume Lecomte Lopez Jean Dupuis Guillot Hubert Berger Carpentier Sanchez Dupré
    Moulin Louis Deschamps Huet Vasseur Perez Boucher Fleury Royer Klein Jacquet Adam Paris Poirier
    Marty Aubry Guyot Carré Charles Renault Charpentier Ménard Maillard Baron Bertin Bailly Hervé
    Schneider Fernandez Le-Goff Collet Léger Bouvier Julien Prévost Millet Perrot Daniel Le-Roux Cousin
    Germain Breton Besson Langlois Rémy Le-Gall Pelletier Lévêque Perrier Leblanc Barré Lebrun Marchal
    Weber Mallet Hamon Boulanger Jacob Monnier Michaud Rodriguez Guichard Gillet Étienne Grondin Poulain
    Tessier Chevallier Collin Chauvin Da-Silva Bouchet Gay Lemaître Bénard Maréchal Humbert Reynaud
    Antoine Hoarau Perret Barthélemy Cordier Pichon Lejeune Gilbert Lamy Delaunay Pasquier Carlier
    Laporte d'Aubigné de-Saint-Exupéry
    """
)
GIVEN_NAMES = _words(
    """
    Jean Marie Michel Philippe Alain Nathalie Isabelle Sylvie Catherine Françoise Pierre Christophe
    Patrick Nicolas Christine Stéphane Valérie Sandrine Frédéric Laurent Éric Véronique David Sophie
    Olivier Pascal Céline Thierry Martine Daniel Bernard Brigitte Hélène Anne Jacques Dominique Chantal
    Élise Agnès Gérard Hervé Josiane Noëlle Loïc Gaëlle Maëlle Benoît Aurélie Jérôme Mathieu Émilie
    Cédric Mélanie Ludovic Jean-Pierre Jean-Marc Marie-Claude Anne-Sophie Jean-François Marie-Hélène
    Pierre-Yves Marie-Christine Christian Joël Thérèse Yves Régis Rémi Zoé Chloé Inès Léa Théo Hugo
    Clément Mathilde Bérénice Aurélien
    """
)
COMMUNES = (
    ("01", "Ain", "1001", "L'Abergement-Clémenciat"),
    ("01", "Ain", "1053", "Bourg-en-Bresse"),
    ("06", "Alpes-Maritimes", "6088", "Nice"),
    ("13", "Bouches-du-Rhône", "13055", "Marseille"),
    ("2A", "Corse-du-Sud", "2A004", "Ajaccio"),
    ("2B", "Haute-Corse", "2B033", "Bastia"),
    ("29", "Finistère", "29019", "Brest"),
    ("31", "Haute-Garonne", "31555", "Toulouse"),
    ("33", "Gironde", "33063", "Bordeaux"),
    ("35", "Ille-et-Vilaine", "35238", "Rennes"),
    ("44", "Loire-Atlantique", "44109", "Nantes"),
    ("59", "Nord", "59350", "Lille"),
    ("63", "Puy-de-Dôme", "63113", "Clermont-Ferrand"),
    ("67", "Bas-Rhin", "67482", "Strasbourg"),
    ("69", "Rhône", "69123", "Lyon"),
    ("74", "Haute-Savoie", "74010", "Annecy"),
    ("75", "Paris", "75056", "Paris"),
    ("76", "Seine-Maritime", "76540", "Rouen"),
    ("971", "Guadeloupe", "97105", "Basse-Terre"),
    ("974", "La Réunion", "97411", "Saint-Denis"),
)
FUNCTIONS = (
    "",
    "",
    "",
    "",
    "Maire",
    "Premier adjoint au maire",
    "Deuxième adjoint au maire",
    "Adjoint au maire",
)
CSP = (
    ("23", "Chefs d'entreprise"),
    ("33", "Cadres de la fonction publique"),
    ("74", "Anciens cadres"),
    ("10", "Agriculteurs exploitants"),
    ("54", "Employés administratifs"),
)
CM_HEADER = (
    "Code du département;Libellé du département;Code de la collectivité à statut particulier;"
    "Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;Nom de l'élu;"
    "Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;"
    "Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;"
    "Date de début de la fonction;Code nationalité"
)


def municipal_csv(rows: int, seed: int = 2026) -> bytes:
    """An RNE municipal file (`…-cm.csv`) of ``rows`` distinct élus, as the Ministry publishes it."""
    rnd = random.Random(seed)
    lines = [CM_HEADER]
    seen: set[tuple[str, str, date]] = set()
    epoch = date(1940, 1, 1)
    while len(lines) <= rows:
        family, given = rnd.choice(FAMILY_NAMES).replace("-", " ").upper(), rnd.choice(GIVEN_NAMES)
        birth = epoch + timedelta(days=rnd.randrange(0, 60 * 365))
        if (family, given, birth) in seen:
            continue
        seen.add((family, given, birth))
        dept, dept_name, commune, commune_name = rnd.choice(COMMUNES)
        code = str(int(commune) + rnd.randrange(0, 400)) if commune.isdigit() else commune
        start = rnd.choice(("28/06/2020", "15/03/2020", "2020-06-28"))
        csp_code, csp_label = rnd.choice(CSP)
        lines.append(
            f"{dept};{dept_name};;;{code};{commune_name};{family};{given};{rnd.choice('MF')};"
            f"{birth:%d/%m/%Y};{csp_code};{csp_label};{start};{rnd.choice(FUNCTIONS)};;FR"
        )
    return ("\n".join(lines) + "\n").encode()


class Bench:
    """A fresh database with the ledger's migrations, test JWT keys and a unique topic prefix."""

    def __init__(self, scratch: Scratch) -> None:
        key = self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.database_url = scratch.database_url
        self.topic_prefix = scratch.topic_prefix
        self.settings = Settings(
            environment="test",
            database_url=scratch.database_url,
            kafka_bootstrap_servers=scratch.bootstrap,
            topic_prefix=self.topic_prefix,
            topic_partitions=3,
            jwt_public_key_pem=devtokens.public_pem_of(self.private_pem),
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
            relay_batch_size=5000,
            relay_poll_interval_s=0.1,
            log_level="WARNING",
            nir_hmac_key="bench-nir-key",
        )

    def headers(self, role: str, sub: str = "bench-agent") -> dict[str, str]:
        token = devtokens.mint_token(
            self.private_pem, sub=sub, roles=[role], issuer=ISSUER, audience=AUDIENCE
        )
        return {"Authorization": f"Bearer {token}"}

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        async with running_app(create_app(self.settings)) as client:
            client.timeout = httpx.Timeout(300)
            yield client

    async def outbox_backlog(self) -> int:
        connection = await asyncpg.connect(self.database_url.replace("+asyncpg", ""))
        try:
            return int(await connection.fetchval("SELECT count(*) FROM outbox"))
        finally:
            await connection.close()


@asynccontextmanager
async def fresh_bench() -> AsyncIterator[Bench]:
    async with scratch_stack("ledger") as scratch:
        await asyncio.to_thread(upgrade_to_head, ALEMBIC_INI, scratch.database_url)
        yield Bench(scratch)


async def wait_job(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> dict[str, object]:
    while True:
        job: dict[str, object] = (await client.get(path, headers=headers)).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    print("bench/ledger_support.py holds helpers of bench/ledger_*.py; it measures nothing itself")
