"""What is trained: chat rows on the assistant's tokens only, monologue rows on every token, checked on real
encoded rows (the real Mistral v3 tokenizer) and on the labels a real collated training batch carries."""

from __future__ import annotations

import pytest
from generate_dir import chat, passages

from tube2lora_models.chat import MistralChatEncoder
from tube2lora_shared.errors import StageError
from tube2lora_train.audit import mask_audit
from tube2lora_train.config import TrainConfig
from tube2lora_train.mixing import encode, items

PASSAGE = passages(1, 1)[0]


def encoded_rows(encoder) -> list[dict]:
    return encode(encoder, items("own_words", [chat(PASSAGE, "How do you look after your chain?")])
                  + items("monologue", [PASSAGE]))


def test_chat_rows_train_the_answer_and_monologue_rows_every_token():
    encoder = MistralChatEncoder("v3")
    chat_row, text_row = encoded_rows(encoder)
    trained = encoder.decode([t for t, m in zip(chat_row["input_ids"], chat_row["assistant_masks"]) if m])
    assert PASSAGE.text in trained and "look after your chain" not in trained and "Toby" not in trained
    assert text_row["input_ids"][0] == 1 and text_row["input_ids"][-1] == encoder.eos_id  # <s> ... </s>
    assert all(text_row["assistant_masks"]) and encoder.decode(text_row["input_ids"]) == PASSAGE.text

    audit = mask_audit([chat_row, text_row], encoder.decode, encoder.eos_id)
    own, monologue = audit["sources"]["own_words"], audit["sources"]["monologue"]
    assert own["kind"] == "chat" and 0 < own["supervised_share"] < 1 and own["spans"] == 1
    assert monologue["kind"] == "text" and monologue["supervised_share"] == 1.0
    assert own["eos_trained"] and monologue["eos_trained"] and audit["rule_breaches"] == 0
    assert "«" in own["example_trained_between_guillemets"] and "[INST]" in own["example_trained_between_guillemets"]
    assert audit["supervised_tokens"] == own["supervised_tokens"] + len(text_row["input_ids"])


def test_the_audit_catches_a_prompt_trained_and_a_monologue_not_fully_trained():
    encoder = MistralChatEncoder("v3")
    chat_row, text_row = encoded_rows(encoder)
    chat_row["assistant_masks"] = [1] * len(chat_row["input_ids"])  # the persona and question trained too
    text_row["assistant_masks"] = [0] + text_row["assistant_masks"][1:]
    audit = mask_audit([chat_row, text_row], encoder.decode, encoder.eos_id)
    assert audit["sources"]["own_words"]["rule_breaches"] == 1 and audit["sources"]["monologue"]["rule_breaches"] == 1


def test_a_collated_training_batch_carries_exactly_the_masked_labels(tiny_mistral, tmp_path):
    from tube2lora_train.trainer import build, check_labels

    encoder = MistralChatEncoder("v3")
    rows = encoded_rows(encoder)
    cfg = TrainConfig(base_model=str(tiny_mistral), tokenizer="mistral:v3", lora_r=4, max_steps=1, eval_share=0,
                      packing=False)
    trainer, _, _ = build(cfg, str(tiny_mistral), encoder, {"train": rows, "eval": []}, 128, tmp_path)
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    chat_row, text_row = rows
    chat_labels, text_labels = batch["labels"][0].tolist(), batch["labels"][1].tolist()
    answer_start = chat_row["assistant_masks"].index(1)
    assert chat_labels[:answer_start] == [-100] * answer_start  # no prompt token is trained
    assert chat_labels[answer_start: len(chat_row["input_ids"])] == chat_row["input_ids"][answer_start:]
    assert text_labels[: len(text_row["input_ids"])] == text_row["input_ids"]  # every monologue token
    assert set(text_labels[len(text_row["input_ids"]):]) <= {-100}  # padding is not
    assert check_labels(trainer, rows) == ["own_words", "monologue"]


def test_packed_rows_keep_their_masks_and_attend_to_themselves(tiny_mistral, tmp_path):
    """packing (the default): both rows in one padding-free sequence, each with its own labels and position ids
    that restart at 0 (so a row never attends to the row packed before it); check_labels finds them inside it."""
    from tube2lora_train.trainer import build, check_labels

    encoder = MistralChatEncoder("v3")
    rows = encoded_rows(encoder)
    cfg = TrainConfig(base_model=str(tiny_mistral), tokenizer="mistral:v3", lora_r=4, max_steps=1, eval_share=0)
    assert cfg.packing
    trainer, _, _ = build(cfg, str(tiny_mistral), encoder, {"train": rows, "eval": []}, 128, tmp_path)
    assert len(trainer.train_dataset) == 1
    batch = trainer.data_collator([trainer.train_dataset[0]])
    assert "attention_mask" not in batch and int((batch["labels"] != -100).sum()) > 0
    ids, labels, positions = (batch[k][0].tolist() for k in ("input_ids", "labels", "position_ids"))
    start = 0
    for length in trainer.train_dataset[0]["seq_lengths"]:
        row = next(r for r in rows if r["input_ids"] == ids[start: start + length])
        expected = [t if m else -100 for t, m in zip(row["input_ids"], row["assistant_masks"])]
        assert labels[start + 1: start + length] == expected[1:] and positions[start: start + length] == list(range(length))
        start += length
    assert start == len(ids) == sum(len(r["input_ids"]) for r in rows)
    assert check_labels(trainer, rows) == ["own_words", "monologue"]
    rows[1]["assistant_masks"] = [0] * len(rows[1]["assistant_masks"])  # a mask the packed labels do not follow
    with pytest.raises(StageError, match="monologue row do not follow its mask"):
        check_labels(trainer, rows)
