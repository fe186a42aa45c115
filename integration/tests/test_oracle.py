"""Differential oracle against Apache Kafka's own authorizer (integration/oracle/): every case runs straight to
Kafka's SSL listener (StandardAuthorizer, ACLs created through the Admin API) and through Envoy + the filter
(the same ACLs as plugin configuration) to a PLAINTEXT listener of the same node; the answers must be equal
request by request after normalising what legitimately differs (runner.normalise).

Default: the curated cases (matrix.curated()) and a fixed subset of the seeded matrix (seed 19, 60 cases), about
a minute. KMF_ORACLE_FULL=1: the whole matrix (runner.FULL, 640 seeded cases), a few minutes; the table of
results is printed at the end; KMF_ORACLE_SEED=<n> with it draws the matrix from another seed. Replay one case:
`python integration/oracle/runner.py [--full] --only <case id>` (printed with the seed on every divergence).

Each divergence found is a case marked xfail(strict=True, raises=Divergence) that names it: the test fails if the
case starts to match (fixed: drop the mark) or diverges in another way than the one documented.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle"))

import harness  # noqa: E402
import matrix  # noqa: E402
import runner  # noqa: E402

pytestmark = pytest.mark.filter

FULL = os.environ.get("KMF_ORACLE_FULL", "") in ("1", "true", "yes")
SHAPE = dict(runner.FULL if FULL else runner.SUBSET)
# Another seed (full matrix only: the subset's expected divergences are those of seed 19).
if FULL and os.environ.get("KMF_ORACLE_SEED"):
    SHAPE["seed"] = int(os.environ["KMF_ORACLE_SEED"])
PHASES = runner.build_phases(SHAPE)

# The divergent cases of the fixed subset (seed 19), by the known divergence that explains them.
SUBSET_DIVERGENCES: dict[str, str] = {}
CURATED = {c.case.id: c for c in matrix.curated()}
CURATED_CLASSES = {
    "d.c11.0": "delete-topics",
    "d.c19.0": "metadata-auto-create",
    "d.c20.0": "metadata-create-denied-error",
    "d.c84.0": "regex-subscription-refused",
}
DESCRIPTIONS = {name: text for name, _, text in runner.KNOWN_DIVERGENCES}


class Divergence(Exception):
    """The case diverges exactly as documented (the expected failure of an xfail case)."""


def expected_divergence(case_id: str) -> str | None:
    if case_id in CURATED_CLASSES:
        return CURATED_CLASSES[case_id]
    if not FULL:
        return SUBSET_DIVERGENCES.get(case_id)
    return None


def case_params():
    params = []
    for phase in PHASES:
        for acl_set in phase.sets:
            for case in acl_set.cases:
                name = expected_divergence(case.id)
                marks = []
                if name is not None:
                    reason = (CURATED[case.id].expect if case.id in CURATED
                              else "; ".join(DESCRIPTIONS[n] for n in name.split("+")))  # fmt: skip
                    marks.append(pytest.mark.xfail(strict=True, raises=Divergence, reason=f"{name}: {reason}"))
                params.append(pytest.param(case.id, id=case.id, marks=marks))
    return params


@pytest.fixture(scope="module")
def oracle():
    run_dir = harness.RUN_DIR / ("oracle-test-full" if FULL else "oracle-test")
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    lines: list[str] = []
    instance = runner.Oracle(run_dir, log=lines.append)
    try:
        instance.run(PHASES, seed=SHAPE["seed"])
    finally:
        instance.stop()
    (run_dir / "oracle.log").write_text("\n".join(lines) + "\n")
    return instance


@pytest.mark.parametrize("case_id", case_params())
def test_kafka_and_filter_answer_alike(oracle, case_id):
    results = oracle.case_results(case_id)
    assert results, f"case {case_id} did not run"
    name = runner.classify(results)
    if name is None:
        return
    details = "\n".join(
        f"  {r.api} v{r.version} {line}" for r in results if not r.matched for line in r.differences[:8]
    )
    message = f"seed {SHAPE['seed']}, case {case_id} diverges ({name}):\n{details}"
    expected = expected_divergence(case_id)
    if expected is not None and name == expected:
        raise Divergence(message)
    if FULL and expected is None and name != "new" and case_id not in CURATED:
        pytest.xfail(f"{name}: {'; '.join(DESCRIPTIONS[n] for n in name.split('+'))}\n{message}")
    raise AssertionError(message)


def test_at_least_200_cases_in_the_full_matrix():
    """The brief of the oracle: the whole matrix has at least 200 cases, from a seed."""
    full = runner.build_phases(runner.FULL)
    assert sum(len(s.cases) for p in full for s in p.sets) >= 200
    again = runner.build_phases(runner.FULL)
    assert [c.describe() for p in again for s in p.sets for c in s.cases] == [
        c.describe() for p in full for s in p.sets for c in s.cases
    ]


def test_print_the_table(oracle, capsys):
    """Prints the result table (cases, matches, divergences by API and by known divergence), runs last."""
    text = (f"oracle: seed {SHAPE['seed']}, Apache Kafka {runner.kafka_broker.kafka_version()}, "
            f"{'full matrix' if FULL else 'subset'}; details in {oracle.run_dir}/divergences.jsonl\n\n"
            f"{oracle.table()}\n\n{oracle.classes_table()}\n")  # fmt: skip
    (oracle.run_dir / "RESULTS.md").write_text(text)
    with capsys.disabled():
        print("\n" + text)
