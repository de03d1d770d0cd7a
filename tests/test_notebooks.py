"""The example notebooks execute (quick mode: GFN_CRN_QUICK=1 shrinks every run)."""

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # executes the three notebooks: 17-21 s each

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_committed():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_quickstart_rpa.ipynb", "02_exploration.ipynb", "03_task_gallery.ipynb",
            "04_conditional.ipynb"} <= names
    for p in NOTEBOOKS:  # committed with the outputs of a full execution
        nb = nbformat.read(p, as_version=4)
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{p.name} has no outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("GFN_CRN_QUICK", "1")
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
