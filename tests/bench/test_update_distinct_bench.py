"""bench/update_distinct.py on a real (tiny) run: both ways of scoring give the same gradient, and scoring every row
is put back afterwards."""

import importlib.util
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "update_distinct.py"
SPEC = importlib.util.spec_from_file_location("update_distinct", BENCH)
update_distinct = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(update_distinct)


def test_both_ways_give_the_same_gradient_on_one_real_batch(tmp_path, monkeypatch, capsys):
    from agentgym.train import update
    from policies.tiny import TinyConfig, build_tiny_model

    model = build_tiny_model(tmp_path / "model", cfg=TinyConfig(vocab_size=512, hidden_size=64, num_layers=1,
                                                                num_heads=1, num_kv_heads=1, intermediate_size=128,
                                                                corpus_episodes=30))
    distinct = update.score_distinct
    monkeypatch.setattr("sys.argv", ["update_distinct.py", "--train-args",
                                     f"--env agentgym/FrozenLake-v1 --model {model} --engine hf --num-groups 2 "
                                     "--group-size 4 --max-steps 3 --min-abs-advantage 0 --kl-coef 0 "
                                     "--eval-at-start false --train-eval-episodes 0"])
    update_distinct.main()
    out = capsys.readouterr().out
    samples, pairs = map(int, re.search(r"batch: (\d+) update samples, (\d+) distinct", out).groups())
    assert 0 < pairs <= samples
    assert float(re.search(r"largest gradient difference (\S+) of", out).group(1)) < 1e-4
    assert update.score_distinct is distinct  # the plain scoring was only borrowed
