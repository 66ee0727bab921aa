"""Over-long inputs: the prompt loses tokens from its left first, the response is never cut silently."""

from __future__ import annotations

import json

from transformers import AutoTokenizer

from tests.trainer import tiny
from trainer import train
from trainer.reward.batching import encode_pairs

FAST = {"learning_rate": 2e-3, "batch_size": 8, "num_threads": 2, "save_steps": 0}


def _words(tokenizer, ids):
    return tokenizer.convert_ids_to_tokens(ids)


def test_truncation_cuts_the_prompt_from_the_left_and_keeps_the_whole_response(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    prompt = "the " * 30 + "bread"  # the request sits at the end of a long prompt
    response = "great helpful clear kind correct precise"

    (encoded,) = encode_pairs(tokenizer, [prompt], [response], max_length=16)

    tokens = _words(tokenizer, encoded.input_ids)
    assert len(tokens) == 16
    assert tokens[-9:] == ["bread", "[SEP]", *response.split(), "[SEP]"]
    assert encoded.prompt_truncated and not encoded.response_truncated


def test_joined_template_also_keeps_the_response_and_the_end_of_the_prompt(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    (encoded,) = encode_pairs(
        tokenizer, ["the " * 30 + "bread"], [" great helpful"], max_length=8, template="joined"
    )
    tokens = _words(tokenizer, encoded.input_ids)
    assert tokens == ["[CLS]", "the", "the", "the", "bread", "great", "helpful", "[SEP]"]
    assert encoded.token_type_ids is None


def test_a_response_longer_than_max_length_is_cut_only_with_a_flag(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    (encoded,) = encode_pairs(tokenizer, ["the bread"], ["great " * 30], max_length=16)
    assert len(encoded) == 16
    assert encoded.response_truncated


def _rows_with_long_inputs():
    rows = tiny.pairwise_rows(24, seed=1)
    for row in rows[:5]:
        row["prompt"] = "the " * 40 + row["prompt"]
    for row in rows[5:8]:
        row["chosen"] = row["chosen"] + " clear" * 40
    return rows


def test_a_run_counts_truncated_prompts_cut_responses_and_dropped_rows(
    tmp_path, write_rows, tiny_bert
):
    for truncation, dropped, response_cut in (("truncate_response", 0, 3), ("drop", 3, 0)):
        out = tmp_path / truncation
        result = train(
            objective="reward_pairwise",
            config={
                **FAST,
                "model": str(tiny_bert),
                "max_length": 24,
                "max_steps": 2,
                "truncation": truncation,
            },
            train_path=write_rows("train", _rows_with_long_inputs()),
            eval_path=write_rows("test", tiny.pairwise_rows(6, seed=2)),
            output_dir=out,
        )
        assert result.metrics["rows_dropped"] == dropped
        assert result.metrics["rows_response_truncated"] == response_cut
        assert result.metrics["rows_prompt_truncated"] >= 5
        document = json.loads((out / "metrics.json").read_text())
        assert document["metrics"]["rows_dropped"] == dropped
        assert 0 <= document["calibration"]["ece"] <= 1
        assert len(document["calibration"]["bins"]) == 10
