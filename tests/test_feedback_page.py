"""Feedback pages: what a student sees, checked in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import ASSIGNMENT, GradedClass, autograder, graded_class

from autograder.class_grading.feedback_page import REFERENCE_COLOUR, SHADE_COLOUR, STUDENT_COLOUR, render_page
from autograder.class_grading.gradebook import Entry, Gradebook
from autograder.exercises import load_assignment
from autograder.grading.curves import failing_ranges, grid
from autograder.grading.references import load_references
from autograder.grading.report import Curve, zero_report

pytestmark = pytest.mark.batch

ACTIVATIONS = load_assignment(ASSIGNMENT)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def graded() -> GradedClass:
    return graded_class()


def entry_of(graded: GradedClass, student: str) -> Entry:
    with Gradebook(graded.gradebook, read_only=True) as gradebook:
        return next(e for e in gradebook.entries(ASSIGNMENT) if e.student == student)


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium before the tests")
        pytest.skip("no chromium here (apt-get install -y chromium)")
    return found


def browse(page: Path, tmp_path: Path, *how: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *how, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def visible_text(dom: str) -> str:
    """Roughly what a reader sees: the body without tags, styles and the SVG's markup."""
    body = re.sub(r"<(style|title)>.*?</\1>", "", dom, flags=re.DOTALL)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_the_hook_samples_a_failed_plottable_function_beside_the_reference(graded: GradedClass) -> None:
    report = entry_of(graded, "kim").report  # sigmoid_grad(z) written as z * (1 - z)
    curve = report.function("sigmoid_grad").curve
    plot = ACTIVATIONS.plot_of("sigmoid_grad")
    assert curve is not None and plot is not None
    z = grid(plot)
    references = load_references(ACTIVATIONS)
    assert references is not None
    assert np.allclose(curve.x, z)
    assert np.allclose(curve.reference, references.function("sigmoid_grad")(z))
    assert np.allclose(curve.student, z * (1 - z))
    assert failing_ranges(curve) == [(-8.0, 8.0)]
    assert report.function("sigmoid").curve is None  # it passed: nothing to plot
    assert report.function("softmax").curve is None  # it failed, but it is not elementwise


def test_failing_ranges_are_the_runs_where_the_curves_part() -> None:
    curve = Curve(
        x=[-2.0, -1.0, 0.0, 1.0, 2.0, 3.0],
        student=[0.0, 0.5, 1.0, 1.0, None, 3.0],
        reference=[0.0, 0.0, 0.0, 1.0, 2.0, 3.0],
    )
    assert failing_ranges(curve) == [(-1.0, 0.0), (2.0, 2.0)]


def test_a_page_in_chromium_shows_points_failures_hints_and_the_plot(graded: GradedClass, tmp_path: Path) -> None:
    done = autograder(
        "export", "--assignment", ASSIGNMENT, "--gradebook", str(graded.gradebook), "--to", "feedback",
        "--out", str(tmp_path / "feedback"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = tmp_path / "feedback" / "kim" / ASSIGNMENT / "feedback.html"
    assert len(list((tmp_path / "feedback").glob(f"*/{ASSIGNMENT}/feedback.html"))) == 7
    html = page.read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html

    dom = browse(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    text = visible_text(dom.stdout)
    assert "02_activations: feedback for kim" in text
    assert "Total: 80 / 100" in text
    assert "sigmoid_grad 0 / 10 3 properties fail" in text
    assert "softmax 0 / 10" in text and "sigmoid 10 / 10 all properties hold" in text
    assert "sigmoid_grad agrees with central differences of sigmoid (away from kinks) (−3)" in text
    assert "smallest failing input: z = " in text and "expected: " in text and "got: " in text
    assert "Hint: Compute sigma(z) first, then the derivative from it." in text
    assert "They differ where the band is shaded: z in [-8, 8]" in text
    assert dom.stdout.count("<svg") == 1  # one plot: kim's other failure, softmax, is not elementwise

    shot = browse(page, tmp_path, "--screenshot=" + str(tmp_path / "page.png"), "--window-size=1000,2600")
    assert shot.returncode == 0, shot.stderr
    import matplotlib.image

    pixels = (matplotlib.image.imread(tmp_path / "page.png")[..., :3] * 255).round()
    for colour in (STUDENT_COLOUR, REFERENCE_COLOUR, SHADE_COLOUR):
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        seen = np.sum(np.all(np.abs(pixels - rgb) <= 12, axis=-1))
        assert seen > 200, f"{colour} is not on the screen ({seen} pixels)"


def test_text_from_a_submission_is_shown_never_run(tmp_path: Path) -> None:
    report = zero_report(ACTIVATIONS, "x.ipynb", "grade", 1, True, '<script>document.title="owned"</script>')
    report.functions[0].properties[0].verdict = "failed"
    report.functions[0].properties[0].feedback = "sigmoid raised ValueError: <img src=x onerror=alert(1)>"
    page = tmp_path / "page.html"
    page.write_text(render_page(report, "<b>mallory</b>"))
    html = page.read_text()
    assert "<script>" not in html and "<img" not in html and "<b>mallory" not in html
    dom = browse(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    assert "owned" not in re.search(r"<title>(.*?)</title>", dom.stdout, flags=re.DOTALL).group(1)  # type: ignore[union-attr]
    assert '<script>document.title="owned"</script>' in visible_text(dom.stdout)
