"""The OpenAPI description matches the app's JSON routes, and the migrations match the models."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from flask import Flask
from service_fixtures import *

SPEC = Path(__file__).resolve().parent.parent / "issuer" / "service" / "openapi.yaml"
JSON_BLUEPRINTS = ("api", "public", "health")
JSON_ENDPOINTS = ("desk.session_json", "desk.verify_json")  # a desk's own system calls them


def _app_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".", 1)[0] not in JSON_BLUEPRINTS and rule.endpoint not in JSON_ENDPOINTS:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    return routes


def _spec_routes() -> set[tuple[str, str]]:
    spec = yaml.safe_load(SPEC.read_text("utf-8"))
    methods = {"get", "post", "put", "patch", "delete"}
    return {(path, m) for path, item in spec["paths"].items() for m in item if m in methods}


def test_openapi_matches_the_url_map(app: Flask) -> None:
    assert _spec_routes() == _app_routes(app)


def test_openapi_path_parameters_are_declared() -> None:
    spec = yaml.safe_load(SPEC.read_text("utf-8"))
    params = spec["components"]["parameters"]
    for path, item in spec["paths"].items():
        for op in item.values():
            declared = {(params[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p)["name"] for p in op.get("parameters", [])}
            assert set(re.findall(r"{(\w+)}", path)) <= declared, path


def test_migrations_match_the_models(app: Flask) -> None:
    """The Alembic head creates exactly what the models declare (on SQLite and PostgreSQL)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from issuer.db import Base
    from issuer.service import db

    with db.engine(app).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ; add a revision: {diff}"
