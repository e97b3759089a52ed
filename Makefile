# Two commands on a fresh machine:
#   make demo   set up .venv (once; builds the mmcv wheel once per machine) and run the demo
#   make test   same set-up, then the test suite
PY := .venv/bin/python
DEMO_DIR ?= work_dirs/demo

.PHONY: setup demo test clean-demo

setup:
	bash tools/setup_env.sh

demo: setup
	PYTHON=$(abspath $(PY)) bash tools/demo.sh $(DEMO_DIR)

test: setup
	$(PY) -m pytest -q tests

clean-demo:
	rm -rf $(DEMO_DIR)
