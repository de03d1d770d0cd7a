VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install clean

$(PY):
	python3 -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,interop]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gfn-crn demo --out demo_out

test: $(STAMP)
	$(PY) -m pytest tests

# the edit loop: everything but the tests marked slow (under a minute on an idle machine)
test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not slow"

clean:
	rm -rf $(VENV) demo_out
