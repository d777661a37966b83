"""All SQL of the dossier service: tables, repositories returning domain objects, the public CSV."""
