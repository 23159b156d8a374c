"""The solution notebook of 05_training_loop, run top to bottom: digits, the capstone, sigmoid against ReLU.

The capstone's claim is an empirical one, so the test checks the numbers the reference run prints at the
notebook's default size: logistic regression plateaus, the large network keeps climbing and beats it by
a clear margin at the largest size. So are the chapters around it: the threads chosen, the measured CPU
beside published GPU peaks, timed experiments, a tuned traditional model winning at small n, and skip
connections carrying the gradient to the first layer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.training_loop]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "05_training_loop" / "training_loop.ipynb"
CAPSTONE_LINE = re.compile(r"^n = +(\d+): (.*)$", re.MULTILINE)


def executed_output() -> str:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{output.get('ename')}: {output.get('evalue')}"
            if output["output_type"] == "stream" and output["name"] == "stdout":
                texts.append(output["text"])
    return "".join(texts)


def capstone_table(text: str) -> dict[str, list[float]]:
    """``{model: [accuracy at each size]}`` from lines like ``n = 300: logistic regression 0.601; ...``."""
    table: dict[str, list[float]] = {}
    for _, rest in CAPSTONE_LINE.findall(text):
        for entry in rest.split("; "):
            name, value = entry.rsplit(" ", 1)
            table.setdefault(name, []).append(float(value))
    return table


@pytest.fixture(scope="module")
def output() -> str:
    return executed_output()


def test_digits_reach_97_percent_test_accuracy(output: str) -> None:
    accuracy = float(re.search(r"test accuracy (\d+\.\d)%", output).group(1))  # type: ignore[union-attr]
    assert accuracy >= 97.0
    assert "same history: True" in output


def test_the_capstone_shows_the_effect_of_scale(output: str) -> None:
    table = capstone_table(output)
    logistic, large = table["logistic regression"], table["large MLP [256, 256, 256]"]
    assert len(logistic) == len(large) == 6
    assert large[-1] - logistic[-1] > 0.15  # a clear margin at the largest size
    assert logistic[-1] - logistic[2] < 0.02  # the linear model has plateaued from 3000 examples on
    assert large[-1] - large[-3] > 0.03  # the large network is still climbing
    assert large[-1] > table["small MLP [16]"][-1] + 0.05


def test_relu_trains_a_deep_network_that_sigmoid_cannot(output: str) -> None:
    losses = dict(re.findall(r"^(sigmoid|relu) +final training loss (\d+\.\d+)", output, flags=re.MULTILINE))
    assert float(losses["relu"]) < float(losses["sigmoid"]) - 0.3


def test_the_notebook_chooses_its_threads_and_says_so(output: str) -> None:
    assert re.search(r"^computing with \d+ threads? \(PyTorch, NumPy, scikit-learn\)", output, flags=re.MULTILINE)


def test_the_gpu_section_sets_the_measured_cpu_beside_published_peaks(output: str) -> None:
    assert re.search(r"^this CPU, float32, \d+ thread\(s\) \(measured\) ", output, flags=re.MULTILINE)
    published = re.findall(r"^NVIDIA .*\(published peak\) +[\d.]+ +[\d,]+$", output, flags=re.MULTILINE)
    assert len(published) == 6


def test_the_fast_iteration_loop_times_each_experiment(output: str) -> None:
    assert re.search(r"^a narrower layer: 32 units +\d+ +0\.\d{3} +\d+\.\d$", output, flags=re.MULTILINE)
    assert re.search(
        r"^one experiment: about [\d.]+ s, so about [\d,]+ experiments an hour", output, flags=re.MULTILINE
    )


def test_at_small_n_a_tuned_traditional_model_can_win_and_the_order_is_not_settled(output: str) -> None:
    summaries = re.findall(
        r"^(\d+) examples, 5 draws: (\d+) different orders of the 5 models; first place: (.*)$", output, re.M
    )
    assert [n for n, _, _ in summaries] == ["300", "1000"]
    firsts_at_300 = summaries[0][2]
    assert "SVM, RBF kernel" in firsts_at_300 or "quadratic features" in firsts_at_300
    assert all(int(orders) > 1 for _, orders, _ in summaries)


def test_skip_connections_carry_the_gradient_to_the_first_layer_and_train_the_sigmoid_network(output: str) -> None:
    ratios = dict(
        re.findall(r"^(\w+, [\w ]+?) +gradient norm at layer 1: .*, ratio (\S+)$", output, flags=re.MULTILINE)
    )
    assert float(ratios["sigmoid, skip connections"]) > 1000 * float(ratios["sigmoid, plain"])
    assert float(ratios["relu, skip connections"]) > float(ratios["relu, plain"])
    skip = float(re.search(r"^sigmoid \+ skip connections: final training loss (\d+\.\d+)", output, re.M).group(1))  # type: ignore[union-attr]
    plain = float(re.search(r"^sigmoid +final training loss (\d+\.\d+)", output, re.M).group(1))  # type: ignore[union-attr]
    assert skip < plain - 0.3
