"""Intent quality on the held-out test set: `rasa test nlu` must reach macro-F1 >= 0.90."""

import json
import subprocess

import yaml

from bot.paths import REPO_ROOT
from deploy.services import rasa_env

MODEL = REPO_ROOT / "models" / "trust.tar.gz"
TEST_SET = REPO_ROOT / "tests" / "nlu_test.yml"


def _examples(path):
    data = yaml.safe_load(path.read_text())
    out = []
    for block in data.get("nlu", []):
        if "intent" in block:
            out += [line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")]
    return out


def test_test_set_is_large_and_separate_from_training_data():
    test = _examples(TEST_SET)
    training = set()
    for path in (REPO_ROOT / "data" / "nlu").glob("*.yml"):
        training |= {t.lower() for t in _examples(path)}
    assert len(test) >= 150
    assert not [t for t in test if t.lower() in training]


def test_intent_macro_f1_is_at_least_0_90(tmp_path):
    env = rasa_env()
    rasa = REPO_ROOT / ".venv" / "bin" / "rasa"
    subprocess.run(
        [str(rasa), "test", "nlu", "--model", str(MODEL), "--nlu", str(TEST_SET), "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=900,
    )
    report = json.loads((tmp_path / "intent_report.json").read_text())
    macro_f1 = report["macro avg"]["f1-score"]
    print(f"\nintent macro-F1 on {int(report['macro avg']['support'])} held-out messages: {macro_f1:.3f}")
    assert macro_f1 >= 0.90
