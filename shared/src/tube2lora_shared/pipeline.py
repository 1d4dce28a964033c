"""The pipeline's stages in order; each reads the one before it."""

STAGES = ("download", "transcribe", "normalize", "analyze", "filter", "generate", "train", "evaluate")


def upstream_of(stage: str) -> tuple[str, ...]:
    index = STAGES.index(stage)
    return STAGES[index - 1 : index] if index else ()
