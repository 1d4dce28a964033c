"""Who uses what generate makes (pure but for the stage graph): an LLM-written dataset that train's mix gives no
weight, and that no other stage reads, is paid for and thrown away. editorial_rewrite is such a dataset when
`train.mix.editorial_rewrite` is 0; talk_as_creator is not (evaluate scores the held-out chats whatever their
weight). The default recipe leaves editorial_rewrite off; a recipe that turns it on without a weight is told so
loudly, by the stage (a warning before it asks anything) and by `tube2lora estimate`.

train's section is read through the stage graph (its own model validates it); inside generate's image train is
not installed and nothing is said (the host's `tube2lora estimate` says it).
"""

from __future__ import annotations

from tube2lora_shared.config import Config
from tube2lora_shared.errors import UsageError
from tube2lora_shared.pipeline import partial_install, stages

from .config import GenerateConfig

TRAINING_ONLY = ("editorial_rewrite",)  # generators whose dataset only train reads


def unused(config: Config, cfg: GenerateConfig) -> list[str]:
    """The enabled generators whose dataset train's mix weighs 0 and nothing else reads, each as one sentence
    naming the settings."""
    train = None if partial_install() else stages().get("train")
    if train is None or not config.data.get("train"):
        return []  # no training configured (yet): nothing to compare with
    try:
        mix = config.section("train", train.section).mix
    except UsageError:
        return []  # train says what is wrong with its section when it runs
    return [f"generate.{name}.enabled is true but train.mix.{name} is 0: its examples are paid for and not "
            f"trained on; set generate.{name}.enabled: false, or give train.mix.{name} a weight"
            for name in TRAINING_ONLY if getattr(cfg, name).enabled and getattr(mix, name, 0) == 0]
