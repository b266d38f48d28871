"""Trainer features: optional parts of the trainer behind one protocol (``base.TrainerFeature``).

The core's own (``reference``, ``critic``, ``epo``, ``archer``, ``igpo``) live here; outer packages add theirs as
``agentgym.train.features`` entry points (``rewards`` provides ``progress``). They are built, and their
hooks called, in a fixed order: the core's in the order below, then the entry points by name.
"""

from __future__ import annotations

from agentgym.core import plugins
from agentgym.train.features.archer.feature import ArcherCritic
from agentgym.train.features.base import SetupContext, TrainerFeature
from agentgym.train.features.critic.feature import ValueModel
from agentgym.train.features.epo.feature import EPOFeature
from agentgym.train.features.igpo.feature import InformationGain
from agentgym.train.features.reference import ReferenceModel

CORE: tuple[type[TrainerFeature], ...] = (ReferenceModel, ValueModel, EPOFeature, ArcherCritic,
                                           InformationGain)


def feature_classes() -> list[type[TrainerFeature]]:
    return [*CORE, *(plugins.load(plugins.FEATURES, name) for name in plugins.names(plugins.FEATURES))]


def check_config(config) -> None:
    for cls in feature_classes():
        cls.check_config(config)


def build(config, context: SetupContext) -> list[TrainerFeature]:
    """The features this config asks for, in hook order."""
    built = (cls.from_config(config, context) for cls in feature_classes())
    return [feature for feature in built if feature is not None]


__all__ = ["CORE", "SetupContext", "TrainerFeature", "build", "check_config", "feature_classes"]
