# Set-up and main entry points. Every target creates/refreshes .venv itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo test browser bench clean

# Spark tests need Java 17+ (part of the CI image) besides the spark extra.
# torch is installed first and pinned by constraints.txt: a loose requirement would let pip
# pull the newest CUDA build (several GB) instead of the CPU wheel this machine provides.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[torch,spark,test]"
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(VENV)/bin/mlstrat demo

# Browser tests need Debian's chromium + chromium-driver; the script installs them (root, idempotent).
browser:
	bash scripts/install-browser.sh

test: venv browser
	$(PY) -m pytest -n 2 -q

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
