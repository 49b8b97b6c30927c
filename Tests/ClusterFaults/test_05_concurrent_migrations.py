"""Migrations on the cluster: three `stockroomctl migrate` runs started at once against a fresh
database, each through a different node (as three hosts whose lists start differently would).

The lease row (`schema_migration_lease`) is certified by Galera like any write, so one run applies
every migration once and the others wait for it and find the schema up to date; the migrations'
triggers (CREATE TRIGGER as the non-SUPER stockroom user, log_bin_trust_function_creators=1) exist
on all three nodes, and no run fails.
"""

import threading
from pathlib import Path

from stockroom_kit.cluster import NODES, app_hosts, node_address, node_rows, node_sql

DATABASE = "stockroom_migrate_test"


def test_concurrent_migrations_apply_once(case_report):
    node_sql(1, f"DROP DATABASE IF EXISTS {DATABASE}; "
                f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
                f"GRANT ALL PRIVILEGES ON {DATABASE}.* TO 'stockroom'@'%'")
    host = app_hosts()[0]
    migrations = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "sql").glob("[0-9]*.sql"))
    runs: dict[int, object] = {}

    def migrate(node: int) -> None:
        # The run's own node first, then the others: each run starts on a different node.
        order = [node] + [n for n in NODES if n != node]
        runs[node] = host.ctl("migrate", db_hosts=",".join(node_address(n) for n in order),
                              db_name=DATABASE, timeout=180)

    threads = [threading.Thread(target=migrate, args=(n,)) for n in NODES]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(200)
        outputs = {n: (runs[n].returncode, runs[n].stdout.strip().splitlines()[-1:]) for n in NODES}
        case_report.add("runs (exit, last line) by first node", outputs)
        for n in NODES:
            assert runs[n].returncode == 0, f"migrate through node {n} failed:\n{runs[n].stdout}\n{runs[n].stderr}"
        applied = [line for n in NODES for line in runs[n].stdout.splitlines() if line.startswith("applied ")
                   and line.endswith(".sql")]
        assert sorted(applied) == [f"applied {m}" for m in migrations], f"each migration applied once: {applied}"
        for n in NODES:
            versions = [row[0] for row in node_rows(n, f"SELECT version FROM {DATABASE}.schema_migrations ORDER BY version")]
            assert versions == migrations, f"node {n}: {versions}"
            triggers = node_rows(n, f"SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '{DATABASE}'")
            case_report.add(f"node {n}", f"{len(versions)} migrations, {triggers[0][0]} triggers")
            assert int(triggers[0][0]) >= 3, f"node {n}: triggers {triggers}"
    finally:
        node_sql(1, f"DROP DATABASE IF EXISTS {DATABASE}", check=False)
