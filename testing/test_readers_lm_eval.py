"""lm-evaluation-harness results files: "metric,filter" keys, stderr, "N/A", model and step from
model_args, v0.3 files, experiment modes, malformed files; and the real files public projects
committed (../shared/real_formats/tree/lm_eval): v0.3 files not named results*.json, `..__<path>`
folders, PEFT adapters as their own experiment, the harness's sample counts left out."""
import json
import math

import pytest

from readers_helpers import FIXTURES, REAL, copy_real, place, real, rules
from utils.errors import EvalFileError
from utils.loading import discover, load
from utils.readers.lm_eval import _sniff, model_and_step, read_lm_eval

ADAPTER = "lm_eval/asdiv/..__prompt-pursuit__results__aug17__gsm8k_8shot_pursue_numq_1000_r16_lr1e-6__epoch_{}"

V04_DIR = "lm_eval/v04/__scratch__runs__pt1_ft1-1__checkpoint-500"
V04 = f"{V04_DIR}/results_2024-06-10T12-34-56.412823.json"
V03 = "lm_eval/v03/results.json"


def _by_key(recs):
    return {(r.condition, r.task, r.metric, r.statistic): r.value for r in recs}


def test_v04_results(config):
    root = FIXTURES / "lm_eval"
    recs = read_lm_eval(FIXTURES / V04, root, config)
    assert {(r.experiment, r.step) for r in recs} == {("pt1_ft1-1", 500)}  # pretrained=.../pt1_ft1-1/checkpoint-500
    v = _by_key(recs)
    assert v[("standard", "arc_easy", "arc_easy_acc", "value")] == pytest.approx(0.4377104377)
    assert v[("standard", "arc_easy", "arc_easy_acc_norm", "stderr")] == pytest.approx(0.0100605212)
    assert v[("standard", "gsm8k", "gsm8k_exact_match,flexible-extract", "value")] == pytest.approx(0.015163)
    assert v[("standard", "gsm8k", "gsm8k_exact_match,strict-match", "stderr")] == 0.0
    assert math.isnan(v[("standard", "wikitext", "wikitext_word_perplexity", "stderr")])  # "N/A"
    assert v[("standard", "wikitext", "wikitext_word_perplexity", "value")] == 37.14
    assert math.isnan(v[("atlantis", "arc_easy", "arc_easy_acc", "value")])  # NaN, task with a condition prefix
    assert sum(r.task == "mmlu" for r in recs) == 2  # the `groups` block does not repeat it
    assert not any("alias" in r.metric for r in recs)
    assert len(recs) == 4 + 4 + 2 + 2 + 6 + 2


def test_v03_results(config):
    root = FIXTURES / "lm_eval"
    recs = read_lm_eval(FIXTURES / V03, root, config)
    assert {(r.experiment, r.step) for r in recs} == {("pythia-160m", 3000)}  # revision=step3000
    v = _by_key(recs)
    assert v[("standard", "hellaswag", "hellaswag_acc_norm", "value")] == 0.3082
    assert v[("standard", "lambada_openai", "lambada_openai_ppl", "stderr")] == 1.2101
    assert len(recs) == 8


@pytest.mark.parametrize("args, expected", [
    ("pretrained=/scratch/runs/pt1_ft1-1/checkpoint-500,dtype=bfloat16", ("pt1_ft1-1", 500)),
    ("pretrained=runs/pt1_ft2-3/", ("pt1_ft2-3", None)),
    ("pretrained=EleutherAI/pythia-160m,revision=step3000", ("pythia-160m", 3000)),
    ("pretrained=EleutherAI/pythia-160m,revision=main", ("pythia-160m", None)),
    ({"pretrained": "C:\\runs\\pt1\\checkpoint-20"}, ("pt1", 20)),  # a dict, from the Python API
    ("dtype=float", (None, None)),
])
def test_model_and_step_from_model_args(args, expected):
    assert model_and_step({"config": {"model": "hf", "model_args": args}}) == expected


def test_model_name_is_used_when_model_args_has_no_path():
    assert model_and_step({"config": {"model_args": ""}, "model_name": "gpt2"}) == ("gpt2", None)


@pytest.mark.parametrize("mode, experiment, step", [
    (None, "pt1_ft1-1", 500),               # default: the model named in the file
    ("model", "pt1_ft1-1", 500),
    ("top", "sweep", 500),                  # the folder under the data root
    ("run", "__scratch__runs__pt1_ft1-1__checkpoint-500", 500),  # the folder holding the file
])
def test_experiment_modes(tmp_path, mode, experiment, step):
    rule = {"reader": "lm_eval", "glob": "**/results_*.json"}
    cfg = rules(tmp_path, readers=[dict(rule, experiment=mode) if mode else rule])
    root = tmp_path / "data"
    place(V04, root / "sweep" / V04_DIR.split("/")[-1] / "results_2024-06-10T12-34-56.412823.json")
    frame = load(root, cfg).frame
    assert set(zip(frame["experiment"], frame["step"])) == {(experiment, step)}


def test_file_without_a_model_falls_back_to_its_folder_and_checkpoint(tmp_path, config):
    data = json.loads((FIXTURES / V03).read_text())
    del data["config"]
    path = tmp_path / "pt1_ft1-4" / "checkpoint-900" / "results_2024-01-01T00-00-00.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data, indent=2))
    assert {(r.experiment, r.step) for r in read_lm_eval(path, tmp_path, config)} == {("pt1_ft1-4", 900)}


@pytest.mark.parametrize("content, reason", [
    ('{"results": {"hellaswag": {"acc,none": 0.', "not valid JSON"),
    ('{"versions": {}}', "no 'results' object"),
    ('{"results": {"hellaswag": 0.5}}', "results.hellaswag: expected an object of metrics"),
    ('{"results": {"hellaswag": {"alias": "hellaswag"}}}', "no numeric metrics"),
])
def test_malformed_results(tmp_path, config, content, reason):
    path = tmp_path / "m" / "results_2024.json"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(EvalFileError) as err:
        read_lm_eval(path, tmp_path, config)
    assert str(err.value).startswith(f"{path}: ") and reason in str(err.value)


@pytest.mark.parametrize("rel, content, expected", [
    ("results_2024-06-10T12-34-56.json", '{\n  "results": {}}', True),
    ("results.json", '{"results": {}}', True),
    ("results.json", '{"scores": {}}', False),          # another tool's results.json
    ("samples_arc_easy_2024.jsonl", '{"results": 1}', False),
    ("eval_results.json", '{"results": {}}', False),   # the Trainer's file
])
def test_sniff(tmp_path, rel, content, expected):
    path = tmp_path / rel
    path.write_text(content)
    assert _sniff(path) is expected


@pytest.mark.parametrize("rel", ["lm_eval/pythia-v1/pythia-160m/zero-shot/160m_step23000.json",
                                 "lm_eval/out/results.json"])
def test_recognised_by_content_whatever_the_name(rel):
    assert _sniff(real(rel))


@pytest.mark.parametrize("rel", ["hf_runs/whisper-small-hi/config.json", "hf_runs/dnabert2/tokenizer_config.json",
                                 "hf_runs/whisper-small-hi/all_results.json"])
def test_other_json_files_are_not_taken_for_lm_eval(rel):
    assert not _sniff(real(rel))


def test_v03_revision_steps_make_one_experiment(config):
    paths = [real(f"lm_eval/pythia-v1/pythia-160m/zero-shot/160m_step{s}.json") for s in (23000, 143000)]
    recs = [r for p in paths for r in read_lm_eval(p, REAL, config)]
    assert {r.experiment for r in recs} == {"pythia-v1.1-160m"}
    assert {r.step for r in recs} == {23000, 143000}
    piqa = {(r.step, r.metric, r.statistic): r.value for r in recs if r.task == "piqa"}
    data = json.loads(paths[0].read_text())["results"]["piqa"]
    assert piqa[(23000, "piqa_acc", "value")] == data["acc"]
    assert piqa[(23000, "piqa_acc_norm", "stderr")] == data["acc_norm_stderr"]


def test_peft_adapters_are_their_own_experiments(tmp_path, config):
    rels = [ADAPTER.format(5), ADAPTER.format(20), "lm_eval/asdiv/meta-llama__Meta-Llama-3-8B-Instruct"]
    root = copy_real(rels, tmp_path / "t")
    found = {p.relative_to(root).parts[2] for p, r in discover(root, config) if r == "lm_eval"}
    assert any(f.startswith("..__") for f in found)  # the harness's folder for a relative path is read
    frame = load(root, config).frame
    assert set(frame["experiment"]) == {"Meta-Llama-3-8B-Instruct", "Meta-Llama-3-8B-Instruct+epoch_5",
                                        "Meta-Llama-3-8B-Instruct+epoch_20"}


@pytest.mark.parametrize("args, expected", [
    ("pretrained=meta-llama/Llama-3-8B,peft=../runs/lora_r16/checkpoint-300", ("Llama-3-8B+lora_r16", 300)),
    ("pretrained=EleutherAI/pythia-160m,revision=step3000", ("pythia-160m", 3000)),
    ({"pretrained": "/scratch/x/out/run_7", "tensor_parallel_size": 8}, ("run_7", None)),
])
def test_model_and_step(args, expected):
    assert model_and_step({"config": {"model_args": args}}) == expected


def test_sample_counts_are_not_metrics(config):
    path = real("lm_eval/negotiationtom/Qwen__Qwen3-8B/results_2026-07-08T18-15-33.115417.json")
    raw = json.loads(path.read_text())["results"]
    assert any("sample_len" in m for m in raw.values())  # the file has them
    recs = read_lm_eval(path, REAL, config)
    assert recs and not any("sample_len" in r.metric or "sample_count" in r.metric for r in recs)
    assert {r.experiment for r in recs} == {"Qwen3-8B"}  # model_args as an object
