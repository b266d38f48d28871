"""The protocol of an optional part of the trainer (a "feature"): built from the config, then hooked in.

The loop in ``agentgym.train`` calls every hook of every built feature at fixed points of an
iteration and never asks which features exist, so a new method (a value model, a reference model,
a learned reward, a regulariser) is one class here or in an outer package, not a branch in the loop.
Every hook has a do-nothing default: a feature overrides the ones it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from agentgym.core.types import StepBatch, Trajectory

if TYPE_CHECKING:
    from agentgym.train.config import TrainConfig
    from agentgym.train.update import LossTerm, UpdateSample


@dataclass
class SetupContext:
    """What a feature may need when it is built."""

    policy: Any  # the policy being trained
    model_path: str  # the run's starting model (folder or hub id)
    run_dir: Path
    load_policy: Callable[[str], Any]  # spec -> policy (``plugins.policy_from_spec``)
    shard: Callable[[Any], None] | None = None  # shards a model over the ranks like the policy's (data_parallel=fsdp)


class TrainerFeature:
    """Base class: hooks in the order the loop calls them; all optional.

    A feature owns its settings: ``settings`` is a dataclass whose fields (each with a docstring) become
    the options ``--{name}-{field}`` of ``python -m agentgym.train`` and the keys ``{name}_{field}`` of
    presets and ``config.yaml``; the run's values reach ``check_config`` and ``from_config`` as one instance.
    """

    name: ClassVar[str] = ""  # its flag prefix, and the key of its state in checkpoints
    settings: ClassVar[type | None] = None  # its settings dataclass (None: it reads only TrainConfig fields)
    info_keys: ClassVar[tuple[str, ...]] = ()  # deferred info values its hooks read from steps (rollout computes them)
    # correct at world size > 1: its hooks see the whole gathered batch, and ``prepare`` only its
    # items (it is handed each rank's block); features with models or loss terms of their own are not yet
    data_parallel: ClassVar[bool] = False

    @classmethod
    def check_config(cls, config: TrainConfig, settings: Any) -> None:
        """Raise ``ValueError`` on settings of this feature that cannot work (before anything is built)."""

    @classmethod
    def from_config(cls, config: TrainConfig, settings: Any, context: SetupContext) -> TrainerFeature | None:
        """The feature for this run, or None when the config does not ask for it."""
        raise NotImplementedError

    def warm_up(self, rollout: Callable[[], list[Trajectory]]) -> dict[str, float]:
        """Before the first iteration of a fresh run; ``rollout()`` collects one batch (counted in the budget)."""
        return {}

    def annotate(self, trajectories: list[Trajectory], batch: StepBatch) -> tuple[StepBatch, dict[str, float]]:
        """Add columns to the step batch before the shapers run (rows follow the trajectories' steps)."""
        return batch, {}

    def prepare(self, samples: list[UpdateSample]) -> None:
        """Fill fields of the update samples (after old log-probs, before the update)."""

    def loss_terms(self) -> list[LossTerm]:
        """Extra terms of the policy loss."""
        return []

    def after_update(self, steps: list, batch: StepBatch) -> dict[str, float]:
        """After the policy update, with the kept steps and their (shaped, filtered) batch rows."""
        return {}

    def end_iteration(self, iteration: int) -> dict[str, float]:
        """After ``iteration`` iterations are complete (before evaluation and checkpoint)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue exactly (saved in the checkpoint under ``name``)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
