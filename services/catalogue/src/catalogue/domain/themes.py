"""R-OFR-1: the répertoire of trainings linked to the exercise of the mandate (arrêté of 13 April 2023).

Reference data: a migration loads it into the ``themes`` table and ``GET /v1/themes`` serves it. The codes are
ours (the arrêté lists subjects, not codes): a family prefix and a number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Family:
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class Theme:
    code: str
    family: str
    label: str


FAMILIES: tuple[Family, ...] = (
    Family("FAL", "Les fondamentaux de l'action publique locale"),
    Family("CCO", "Les formations en lien avec les compétences de la collectivité"),
    Family("EPE", "Les formations favorisant l'efficacité personnelle de l'élu"),
)

REPERTOIRE: tuple[Theme, ...] = (
    Theme("FAL-01", "FAL", "Institutions et organisation des collectivités territoriales"),
    Theme("FAL-02", "FAL", "Statut et rôle de l'élu local"),
    Theme("FAL-03", "FAL", "Finances locales et budget de la collectivité"),
    Theme("FAL-04", "FAL", "Commande publique et marchés publics"),
    Theme("FAL-05", "FAL", "Responsabilité pénale, civile et financière de l'élu"),
    Theme("FAL-06", "FAL", "Intercommunalité et coopération territoriale"),
    Theme("FAL-07", "FAL", "Fonction publique territoriale et gestion des ressources humaines"),
    Theme("FAL-08", "FAL", "Déontologie, prévention des conflits d'intérêts et laïcité"),
    Theme("FAL-09", "FAL", "Fonctionnement du conseil municipal et des assemblées délibérantes"),
    Theme("CCO-01", "CCO", "Urbanisme, aménagement et foncier"),
    Theme("CCO-02", "CCO", "Environnement, transition écologique et énergie"),
    Theme("CCO-03", "CCO", "Action sociale, solidarités et santé"),
    Theme("CCO-04", "CCO", "Développement économique, commerce et tourisme"),
    Theme("CCO-05", "CCO", "Éducation, jeunesse et petite enfance"),
    Theme("CCO-06", "CCO", "Culture, sport et vie associative"),
    Theme("CCO-07", "CCO", "Mobilités, voirie et transports"),
    Theme("CCO-08", "CCO", "Logement et habitat"),
    Theme("CCO-09", "CCO", "Eau, assainissement et gestion des déchets"),
    Theme("CCO-10", "CCO", "Sécurité, prévention de la délinquance et gestion de crise"),
    Theme("CCO-11", "CCO", "Agriculture, ruralité et espaces naturels"),
    Theme("EPE-01", "EPE", "Communication et relations avec les citoyens"),
    Theme("EPE-02", "EPE", "Prise de parole en public et media training"),
    Theme("EPE-03", "EPE", "Management d'équipe et conduite de projet"),
    Theme("EPE-04", "EPE", "Numérique, outils bureautiques et réseaux sociaux"),
    Theme("EPE-05", "EPE", "Négociation, médiation et gestion des conflits"),
    Theme("EPE-06", "EPE", "Gestion du temps et conciliation des engagements"),
    Theme("EPE-07", "EPE", "Langues étrangères et coopération internationale"),
)

_BY_CODE = {theme.code: theme for theme in REPERTOIRE}


def theme_for(code: str) -> Theme | None:
    """The répertoire theme with this code, or None when the code is not in the répertoire (R-OFR-1)."""
    return _BY_CODE.get(code)
