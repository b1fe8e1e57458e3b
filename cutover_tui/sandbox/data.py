"""The rehearsal world's production database: nine tables, 747 roles, deterministic content.

It lives in SQLite (the world has no PostgreSQL server of its own); ``pg_dump``'s stand-in
writes it out as a plain-SQL PostgreSQL dump that ``psql`` can restore."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

ROLE_COUNT = 747

TABLES: dict[str, list[tuple[str, str]]] = {
    "companies": [("id", "integer"), ("name", "text"), ("domain", "text")],
    "roles": [("id", "integer"), ("title", "text"), ("company_id", "integer"),
              ("location", "text"), ("seniority", "text"), ("posted_at", "text"),
              ("is_active", "boolean")],
    "role_briefings": [("id", "integer"), ("role_id", "integer"), ("summary", "text")],
    "skills": [("id", "integer"), ("name", "text")],
    "role_skills": [("role_id", "integer"), ("skill_id", "integer")],
    "scrape_runs": [("id", "integer"), ("started_at", "text"), ("status", "text"),
                    ("new_roles", "integer")],
    "digests": [("id", "integer"), ("sent_at", "text"), ("recipient", "text")],
    "users": [("id", "integer"), ("email", "text"), ("is_admin", "boolean")],
    "alembic_version": [("version_num", "text")],
}

SENIORITY = ["junior", "mid", "senior", "staff", "principal"]
LOCATIONS = ["Remote", "New York", "San Francisco", "London", "Berlin", "Austin"]
TITLES = ["Backend Engineer", "Frontend Engineer", "Data Engineer", "ML Engineer",
          "Product Designer", "Site Reliability Engineer", "Engineering Manager"]
SKILLS = ["python", "typescript", "postgres", "kubernetes", "react", "go", "rust", "terraform"]


def create_database(path: Path) -> None:
    rng = random.Random(11)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        for table, columns in TABLES.items():
            db.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns)})")
        companies = [(i, f"Company {i:03d}", f"company{i:03d}.example") for i in range(1, 181)]
        db.executemany("INSERT INTO companies VALUES (?, ?, ?)", companies)
        roles = [(i, rng.choice(TITLES), rng.randint(1, 180), rng.choice(LOCATIONS),
                  rng.choice(SENIORITY), f"2025-12-{rng.randint(1, 18):02d}T09:00:00Z",
                  rng.random() > 0.1) for i in range(1, ROLE_COUNT + 1)]
        db.executemany("INSERT INTO roles VALUES (?, ?, ?, ?, ?, ?, ?)", roles)
        db.executemany("INSERT INTO role_briefings VALUES (?, ?, ?)",
                       [(i, i, f"Briefing for role {i}") for i in range(1, 301)])
        db.executemany("INSERT INTO skills VALUES (?, ?)", list(enumerate(SKILLS, start=1)))
        db.executemany("INSERT INTO role_skills VALUES (?, ?)",
                       [(r, rng.randint(1, len(SKILLS))) for r in range(1, ROLE_COUNT + 1)])
        db.executemany("INSERT INTO scrape_runs VALUES (?, ?, ?, ?)",
                       [(i, f"2025-12-{i:02d}T05:00:00Z", "completed", rng.randint(0, 40))
                        for i in range(1, 19)])
        db.executemany("INSERT INTO digests VALUES (?, ?, ?)",
                       [(i, f"2025-12-{i:02d}T06:00:00Z", "team@example.com")
                        for i in range(1, 19)])
        db.executemany("INSERT INTO users VALUES (?, ?, ?)",
                       [(1, "ops@example.com", True), (2, "viewer@example.com", False)])
        db.execute("INSERT INTO alembic_version VALUES ('c0ffee011')")


def _copy_value(value: object, kind: str) -> str:
    if value is None:
        return "\\N"
    if kind == "boolean":
        return "t" if value else "f"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def dump_sql(path: Path, dbname: str) -> str:
    """The database as ``pg_dump`` (plain format) would write it."""
    out = [
        "--", "-- PostgreSQL database dump", "--", "",
        "-- Dumped from database version 15.18", "-- Dumped by pg_dump version 15.18", "",
        "SET statement_timeout = 0;", "SET client_encoding = 'UTF8';",
        "SET standard_conforming_strings = on;", "", f"-- Database: {dbname}", "",
    ]
    with sqlite3.connect(path) as db:
        for table, columns in TABLES.items():
            out.append(f"CREATE TABLE public.{table} (")
            out.append(",\n".join(f"    {c} {t}" for c, t in columns))
            out.append(");")
            out.append("")
        for table, columns in TABLES.items():
            names = ", ".join(c for c, _ in columns)
            out.append(f"COPY public.{table} ({names}) FROM stdin;")
            for row in db.execute(f"SELECT {names} FROM {table}"):
                out.append("\t".join(_copy_value(v, t) for v, (_, t) in zip(row, columns,
                                                                               strict=True)))
            out.append("\\.")
            out.append("")
    out += ["--", "-- PostgreSQL database dump complete", "--", ""]
    return "\n".join(out)
