"""Piccolo's conf module (PICCOLO_CONF=cial_app.piccolo_conf), used by the `piccolo` CLI.

The running App rebinds `DB` to the engine built from its own Settings (see `cial_app.db.bind`).
"""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

from cial_app.db import make_engine
from cial_app.settings import Settings

DB: Engine = make_engine(Settings.from_env())  # type: ignore[type-arg]

APP_REGISTRY = AppRegistry(apps=["cial_app.piccolo_app"])
