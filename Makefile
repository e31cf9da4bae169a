# tiktok-events-relay: everything a fresh machine needs is installed by these targets (Python venv, Kafka broker
# jars from Maven Central, helm from the Go module proxy). Nothing has to be installed by hand. `make demo` needs
# only the venv and the broker jars (Python, Java, Maven); `make test` also builds helm (Go) and installs Chromium;
# `make bench` installs valgrind.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache
JARS := $(CACHE)/kafka-jars
HELM_VERSION := v3.16.4
HELM := $(CACHE)/bin/helm
export RELAY_HELM := $(abspath $(HELM))

.PHONY: help run-setup setup test lint unit integration demo broker-start broker-stop bench bench-smoke chaos chaos-smoke clean

help:
	@echo "make demo   - set up, start a local Kafka broker and TikTok sandbox, run the whole pipeline on sample events"
	@echo "make test   - set up, then ruff, mypy and pytest (unit + integration against a real broker)"
	@echo "make bench  - benchmark suite (figures in BENCHMARKS.md)"
	@echo "make chaos  - fault suite: kills, outages, throttling, rebalances, poison records, a stuck partition; lost=0"

# What the demo (and a local broker) needs: no Go, no Chromium.
run-setup: $(VENV)/.installed $(JARS)/.installed

# What the tests and CI need on top: helm for the chart tests, Chromium for the HTML report's browser test.
setup: run-setup $(HELM) $(CACHE)/.chromium

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

$(JARS)/.installed: tools/kafka/pom.xml
	mvn -B -q -f tools/kafka/pom.xml org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
	  -DincludeScope=runtime -DoutputDirectory=$(abspath $(JARS))
	touch $@

$(HELM):
	mkdir -p $(dir $@)
	GOBIN=$(abspath $(dir $@)) GOFLAGS=-mod=mod go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# Debian's headless chromium renders the HTML coverage report in tests/unit/test_report_html_browser.py.
$(CACHE)/.chromium:
	mkdir -p $(dir $@)
	if [ ! -x /usr/bin/chromium ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi
	touch $@

# valgrind's callgrind counts the CPU floor's instructions per event in the benchmark (bench/instructions.py).
$(CACHE)/.valgrind:
	mkdir -p $(dir $@)
	if ! command -v valgrind >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; fi
	touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup lint
	$(BIN)/pytest

unit: $(VENV)/.installed $(HELM) $(CACHE)/.chromium
	$(BIN)/pytest -m "not integration"

integration: setup
	$(BIN)/pytest -m integration

demo: run-setup
	@bootstrap=$$($(BIN)/python -m tools.kafka_broker start); \
	trap '$(BIN)/python -m tools.kafka_broker stop >/dev/null' EXIT; \
	$(BIN)/tiktok-relay demo --bootstrap-servers "$$bootstrap"

# The benchmark suite and the fault suite (bench/, BENCHMARKS.md). The full versions run on demand (`make chaos`
# includes a 5-minute TikTok outage); CI runs the smoke versions so they cannot rot. Logs: .cache/bench, .cache/chaos.
bench: $(VENV)/.installed $(JARS)/.installed $(CACHE)/.valgrind
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-smoke: $(VENV)/.installed $(JARS)/.installed $(CACHE)/.valgrind
	$(BIN)/python -m bench.run --smoke

chaos: $(VENV)/.installed $(JARS)/.installed
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

chaos-smoke: $(VENV)/.installed $(JARS)/.installed
	$(BIN)/python -m bench.chaos --smoke

broker-start: run-setup
	@$(BIN)/python -m tools.kafka_broker start

broker-stop: $(VENV)/.installed
	@$(BIN)/python -m tools.kafka_broker stop

clean:
	rm -rf $(VENV) $(CACHE) .mypy_cache .ruff_cache .pytest_cache
