"""Spanish speech through the English-only whisper tiny.en, for real: espeak-ng speaks a Spanish passage, the real
transcribe stage (faster-whisper tiny.en, the offline default model), normalize (as spoken), analyze and filter
stages run on it. The video must be dropped for its language or whisper's low confidence, not as `too_short`,
with every failed gate shown. An English passage spoken the same way is the control: its confidence gates pass."""

from __future__ import annotations

import subprocess

import pytest
from harness import publish_download, video

from tube2lora_analyze.cli import SPEC as ANALYZE
from tube2lora_filter.cli import SPEC as FILTER
from tube2lora_normalize.cli import SPEC as NORMALIZE
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import Dropped, Profile, Transcript
from tube2lora_shared.rundir import RunDir
from tube2lora_transcribe.cli import SPEC as TRANSCRIBE

pytestmark = pytest.mark.slow  # whisper tiny.en on 1.5 minutes of speech

SPANISH = ("Hola a todos, bienvenidos otra vez al taller. Hoy vamos a limpiar la cadena de la bicicleta, que es la "
           "pieza que más trabaja y la que menos cuidamos. Una cadena sucia no solo se ve mal, también se come los "
           "piñones y los platos, y esas piezas cuestan mucho dinero. Primero pongan el cambio en el piñón más "
           "pequeño, para que la cadena quede suelta. Tomen un trapo, envuelvan la parte de abajo de la cadena y "
           "giren los pedales hacia atrás muy despacio. Verán cómo sale la suciedad en líneas largas y negras. "
           "Después apliquen el desengrasante con un cepillo, esperen un par de minutos y enjuaguen con agua tibia. "
           "Sequen bien la cadena, porque el agua debajo del aceite se convierte en óxido. Ahora el aceite: una gota "
           "en cada rodillo, nada más. Esperen diez minutos y limpien todo lo que sobra por fuera. Eso es todo, "
           "amigos, nos vemos en el próximo video.")
ENGLISH = ("Hi everyone, welcome back to the workshop. Today we are going to clean the bike chain, the part that "
           "works the hardest and gets the least care. A dirty chain does not just look bad, it eats the cassette "
           "and the chainrings, and those parts cost real money. First shift into the smallest cog, so the chain "
           "hangs loose. Take a rag, wrap it around the lower run of the chain and turn the pedals backwards, "
           "slowly. You will see the dirt come off in long black lines. Then brush on the degreaser, wait a couple "
           "of minutes and rinse with warm water. Dry the chain well, because water under the oil turns into rust. "
           "Now the oil: one drop on each roller, no more. Wait ten minutes and wipe off everything on the outside. "
           "That is all, friends, see you in the next video.")


def speak(voice: str, text: str, target):
    wav = target.with_suffix(".wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-ac", "1", "-ar", "16000",
                    "-c:a", "libopus", "-b:a", "32k", str(target)], check=True)
    return target


def test_spanish_heard_by_tiny_en_is_dropped_for_its_language_or_confidence_not_its_size(recipe, tmp_path):
    media = {"spanish0001": speak("es", SPANISH, tmp_path / "es.opus"),
             "english0001": speak("en-us", ENGLISH, tmp_path / "en.opus")}
    path = recipe(input={"languages": ["en"]}, transcribe={"prefer": "whisper", "speakers": "off"},
                  normalize={"enabled": False})
    publish_download(path, [(video(vid, extractor="Generic"), file) for vid, file in media.items()])
    for spec in (TRANSCRIBE, NORMALIZE, ANALYZE, FILTER):
        assert run_stage(spec, path) == 0, spec.name
    run = RunDir.for_config(load_config(path))
    transcripts = {t.id: t for t in read_jsonl(run.stage_dir("transcribe") / "transcripts.jsonl", Transcript)}
    profiles = {p.id: p for p in read_jsonl(run.stage_dir("analyze") / "profiles.jsonl", Profile)}
    dropped = {d.id: d for d in read_jsonl(run.stage_dir("filter") / "dropped.jsonl", Dropped)}
    for vid in media:  # what whisper made of it, for the record (pytest -s)
        t, p = transcripts[vid], profiles[vid]
        print(f"{vid}: whisper {t.model} said {t.language!r}, {p.words} words in {p.duration:.0f} s "
              f"({p.words_per_minute} per minute), mean avg_logprob {p.mean_avg_logprob}, text language "
              f"{p.language} p={p.language_probability}; filter: {dropped[vid].reasons if vid in dropped else 'kept'}"
              f"\n  {t.text[:300]!r}")
    spanish = dropped["spanish0001"]
    assert transcripts["spanish0001"].language == "en"  # an English-only model claims English
    # Measured, two runs (whisper, unsure, falls back to sampling at higher temperatures, so the text varies):
    # 85 words in 59 s, mean avg_logprob -2.16, identified as English (p=0.9997): low_confidence, too_short; and
    # 1 word, -2.43, identification unsure (wa p=0.09): language, low_confidence, too_short, low_quality.
    assert spanish.reason in ("language", "low_confidence"), spanish.detail
    assert spanish.reasons[0] == spanish.reason and "too_short" in spanish.reasons, spanish.reasons
    assert "mean whisper avg_logprob" in spanish.detail and "words " in spanish.detail
    english = dropped.get("english0001")
    assert english is None or not {"language", "low_confidence"} & set(english.reasons), english.detail
