# make demo  - build .venv (once) and run a three-node demo cluster on loopback moving a service
# make test  - build .venv (once) and run the test suite
# make lint  - ruff and mypy
# make bench - codec and NACK benchmarks (make bench-cluster, bench-scale: real daemons, as root)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv demo test bench bench-cluster bench-scale bench-failover bench-loss lint clean

venv: $(VENV)/.installed

# compat mode puts the project directory on sys.path, which is how Twisted finds
# twisted/plugins/hbtwist_plugin.py in an editable install. The tests' own medium plugin is
# installed as the separate distribution a third-party medium would be (doc/media-plugins.md).
UNIXDGRAM := tests/plugins/hbtwist-unixdgram
$(VENV)/.installed: setup.py setup.cfg pyproject.toml $(UNIXDGRAM)/setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	$(BIN)/python -m pip install --quiet --no-deps ./$(UNIXDGRAM)
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $@

demo: venv
	$(BIN)/python -m demo.cluster

test: venv
	$(BIN)/python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python bench/codec.py
	$(BIN)/python bench/nack.py
	$(BIN)/python bench/hostile.py --count 100000

bench-cluster: venv
	$(BIN)/python bench/cluster.py

bench-scale: venv
	$(BIN)/python bench/scale.py

bench-failover: venv
	$(BIN)/python bench/failover.py

bench-loss: venv
	$(BIN)/python bench/loss.py

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check hbtwist tests twisted setup.py
	$(BIN)/mypy hbtwist

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -f twisted/plugins/dropin.cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
