"""Model presets: the FuseMax workloads and HuggingFace config.json files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascade import main
from einsum import Analysis, CascadeError, analyze, load, model, model_from_config, parse_text


@pytest.mark.parametrize(("name", "expected"), [
    ("bert-base", (12, 12, 64, 768, 3072, 12)),
    ("llama-3-8b", (32, 8, 128, 4096, 14336, 32)),
    ("mistral-7b", (32, 8, 128, 4096, 14336, 32)),
    ("vit-b-16", (12, 12, 64, 768, 3072, 12)),
])
def test_shipped_hf_configs(name: str, expected: tuple[int, ...]) -> None:
    m = model(name)
    assert (m.heads, m.kv_heads, m.head_dim, m.model_dim, m.ffn_dim, m.layers) == expected
    assert m.batch == 1 and m.shapes(197) == {"E": expected[2], "F": expected[2], "M": 197,
                                              "P": 197}


def test_user_config_named_after_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "Qwen2-0.5B"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "hidden_size": 896, "num_attention_heads": 14, "num_key_value_heads": 2,
        "intermediate_size": 4864, "num_hidden_layers": 24}))
    m = model_from_config(folder / "config.json")
    assert (m.name, m.head_dim, m.kv_heads, m.layers) == ("qwen2-0.5b", 64, 2, 24)


def test_gpt2_style_keys(tmp_path: Path) -> None:
    path = tmp_path / "gpt2.json"
    path.write_text(json.dumps({"n_embd": 768, "n_head": 12, "n_layer": 12, "n_inner": None}))
    m = model_from_config(path)
    assert (m.model_dim, m.heads, m.ffn_dim, m.layers) == (768, 12, 3072, 12)


@pytest.mark.parametrize(("text", "message"), [
    ('{"hidden_size": 768,\n "num_attention_heads": }', "2: not valid JSON: Expecting value"),
    ("[1, 2]", ": a config.json must be a JSON object"),
    ('{"num_attention_heads": 12, "num_hidden_layers": 2}',
     ": config.json has no hidden_size / n_embd / d_model"),
    ('{"hidden_size": 770, "num_attention_heads": 12, "num_hidden_layers": 2}',
     ": hidden size 770 is not a multiple of 12 heads and there is no head_dim"),
    ('{"hidden_size": 768, "num_attention_heads": "12", "num_hidden_layers": 2}',
     ": attention heads must be a positive whole number, not '12'"),
    ('{"hidden_size": 768, "num_attention_heads": 12, "num_key_value_heads": 5, '
     '"num_hidden_layers": 2}', ": model bad: 12 heads cannot share 5 K/V heads evenly"),
])
def test_bad_config(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CascadeError) as caught:
        model_from_config(path)
    assert str(caught.value) == f"{path}:{message}" if message[0].isdigit() else \
        str(caught.value) == f"{path}{message}"


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(CascadeError, match=r"nothing\.json: cannot read model config: "
                                           r"No such file or directory"):
        model_from_config(tmp_path / "nothing.json")


def test_cli_model_config(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parents[1] / "einsum" / "presets" / "hf" / "mistral-7b.json"
    assert main(["analyze", "fusemax", "--model-config", str(path), "--seq", "256",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["model"], data["heads"], data["shapes"]["E"]) == ("mistral-7b", 32, 128)
    assert main(["analyze", "fusemax", "--model", "bert", "--model-config", str(path),
                 "--seq", "8"]) == 2
    assert capsys.readouterr().err == ("cascade: error: give --model or --model-config, "
                                       "not both\n")


def test_gqa_takes_its_head_layout_from_the_model() -> None:
    """G = kv_heads and R = heads / kv_heads come from Llama-3-8B; no head is counted twice:
    the same QK work as multi-head attention, with a quarter of the K and V words."""
    llama = model("llama-3-8b")
    shapes, instances = llama.workload(load("gqa"), 4096)
    assert (shapes, instances) == ({"E": 128, "F": 128, "M": 4096, "P": 4096, "G": 8, "R": 4},
                                   1)
    mha_shapes, mha_instances = llama.workload(load("one_pass"), 4096)
    assert (mha_shapes, mha_instances) == ({"E": 128, "F": 128, "M": 4096, "P": 4096}, 32)
    assert mha_instances == llama.batch * llama.heads
    gqa, mha = analyze(load("gqa"), shapes), analyze(load("one_pass"), mha_shapes)

    def qk_macs(a: Analysis, n: int) -> int:
        return next(c.ops["mac"] for c in a.einsums if c.name == "QK") * n

    assert qk_macs(gqa, instances) == qk_macs(mha, mha_instances) == 4096 * 4096 * 128 * 32
    assert qk_macs(gqa, instances) == 68_719_476_736
    for tensor in ("K", "V"):
        grouped = gqa.footprints[tensor]["words"] * instances
        full = mha.footprints[tensor]["words"] * mha_instances
        assert (grouped, full) == (4_194_304, 16_777_216)  # 1/R of multi-head attention
    assert gqa.ops == {k: v * 32 for k, v in mha.ops.items()}  # all work, not only QK


@pytest.mark.parametrize(("name", "preset", "heads", "instances"), [
    ("gqa", "bert", {"G": 12, "R": 1}, 64),                # multi-head: one query per group
    ("s2_attention", "llama-3-8b", {"H": 32}, 1),           # H carries every head
    ("duo_attention", "bert", {"H": 12}, 64),               # its R is a where size, no rank
    ("mla", "llama-3-8b", {}, 32),                          # no head rank
    ("one_pass", "bert", {}, 64 * 12),
])
def test_workload_head_ranks(name: str, preset: str, heads: dict[str, int],
                             instances: int) -> None:
    shapes, n = model(preset).workload(load(name), 256)
    assert {r: v for r, v in shapes.items() if r in "HGR"} == heads
    assert n == instances


def test_workload_keeps_only_the_ranks_a_cascade_uses() -> None:
    shapes, n = model("bert").workload(load("linear_attention_causal"), 128)
    assert (shapes, n) == ({"E": 64, "F": 64, "M": 128}, 768)
    assert model("bert").shapes(128) == {"E": 64, "F": 64, "M": 128, "P": 128}


def test_workload_refuses_head_ranks_that_do_not_divide_the_heads() -> None:
    cascade = parse_text("QK[m,p,h,g] = Q[e,p,h,g] * K[e,m,g]", name="mixed")
    with pytest.raises(CascadeError) as caught:
        model("llama-3-8b").workload(cascade, 64)
    assert str(caught.value) == ("mixed: its head ranks H=32 x G=8 carry 256 heads, which "
                                 "do not divide the 32 heads of model llama-3-8b")
