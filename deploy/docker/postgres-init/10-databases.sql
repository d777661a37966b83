-- One database per service (docker-compose only; the local stack and Kubernetes create theirs elsewhere).
CREATE DATABASE dife_rights_ledger;
CREATE DATABASE dife_catalogue;
CREATE DATABASE dife_dossier;
CREATE DATABASE dife_funding;
CREATE DATABASE dife_contributions;
CREATE DATABASE dife_payout;
