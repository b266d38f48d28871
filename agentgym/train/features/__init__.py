"""Trainer features: optional parts of the trainer behind one protocol (``base.TrainerFeature``), one
folder each with its model, buffer and settings.

The core's own (``reference``, ``critic``, ``epo``, ``archer``, ``igpo``, ``oracle``) live here; outer packages add theirs as
``agentgym.features`` entry points (``rewards`` provides ``progress``). They are built, and their
hooks called, in a fixed order: the core's in the order below, then the entry points by name. Each
feature's settings class becomes options of ``python -m agentgym.train`` (``--{name}-{field}``).
"""

from __future__ import annotations

from typing import Any

from agentgym.core import plugins
from agentgym.train.features.archer.feature import ArcherCritic
from agentgym.train.features.base import SetupContext, TrainerFeature
from agentgym.train.features.critic.feature import ValueModel
from agentgym.train.features.epo.feature import EPOFeature
from agentgym.train.features.igpo.feature import IGPOBelief
from agentgym.train.features.oracle.feature import OracleCredit
from agentgym.train.features.reference.feature import ReferenceModel

CORE: tuple[type[TrainerFeature], ...] = (ReferenceModel, ValueModel, EPOFeature, ArcherCritic,
                                           IGPOBelief, OracleCredit)


def feature_classes() -> list[type[TrainerFeature]]:
    return [*CORE, *(plugins.load(plugins.FEATURES, name) for name in plugins.names(plugins.FEATURES))]


def settings_classes() -> dict[str, type]:
    """Feature name -> its settings dataclass, for every registered feature that has one."""
    return {cls.name: cls.settings for cls in feature_classes() if cls.settings is not None}


def check_config(config) -> None:
    for cls in feature_classes():
        cls.check_config(config, _settings(config, cls))


def build(config, context: SetupContext) -> list[TrainerFeature]:
    """The features this config asks for, in hook order."""
    built = (cls.from_config(config, _settings(config, cls), context) for cls in feature_classes())
    return [feature for feature in built if feature is not None]


def _settings(config, cls: type[TrainerFeature]) -> Any:
    return config.features.get(cls.name) if cls.settings is not None else None


__all__ = ["CORE", "SetupContext", "TrainerFeature", "build", "check_config", "feature_classes", "settings_classes"]
