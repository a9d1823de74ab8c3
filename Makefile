# Common tasks. Everything runs through uv from the committed lock.
export UV_PYTHON_DOWNLOADS := never
export DO_NOT_TRACK := 1
export MLFLOW_DISABLE_TELEMETRY := true
export DAGSTER_HOME := $(CURDIR)/.modelops/dagster
# uv from PATH, else the one pip installs (setup installs it when neither exists).
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
SYNC := $(UV) sync --frozen --compile-bytecode --extra frameworks

.PHONY: setup run serve test test-fast lint format ui mlflow-ui validate demo demo-ui demo-mlflow-ui benchmark benchmark-serving clean

# The environment is synced (and byte-compiled) only when a lock or pyproject changed: every
# target depends on `setup`, and re-syncing 32,000 files each time cost 6-7 s per command.
SYNCED := .venv/.modelops-synced
$(SYNCED): uv.lock pyproject.toml $(wildcard model_code/*/uv.lock model_code/*/pyproject.toml)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --user uv
	$(SYNC)
	@# each model environment under model_code/ from its own lock (docs/frameworks.md)
	@for lock in model_code/*/uv.lock; do [ -f "$$lock" ] || continue; \
		$(UV) sync --frozen --compile-bytecode --no-dev --quiet --project "$$(dirname $$lock)" || exit 1; done
	@touch $@

setup: $(SYNCED)       ## install the locked environment and create the local Dagster instance
	$(UV) run --frozen modelops init
	@command -v uv >/dev/null || echo "note: uv is in ~/.local/bin, which is not on your PATH: run" \
		"'export PATH=\"\$$HOME/.local/bin:\$$PATH\"' before the README's 'uv run ...' commands" \
		"(or write 'python3 -m uv run ...'); the make targets work as they are"
	@# wrk (Debian's load generator) for the serving tests and benchmark; root only (CI), else skipped
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && { apt-get install -y -qq wrk >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; }; } || true; }
	@# Chromium (Debian's) for the browser test of the UI (Playwright drives it; Playwright's own
	@# browser download is never used); root only (CI), else the browser test is skipped
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && { apt-get install -y -qq chromium >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; } || true; }
	@# R (Debian's, with jsonlite) for R model scripts run through Dagster Pipes; root only, else skipped
	@command -v Rscript >/dev/null || { [ "$$(id -u)" = 0 ] && { apt-get install -y -qq r-base-core r-cran-jsonlite >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq r-base-core r-cran-jsonlite >/dev/null 2>&1; }; } || true; }

run: setup             ## materialize every use case on the embedded default, print a summary
	$(UV) run --frozen modelops run

test: setup lint       ## lint, then every test tier (what CI runs)
	$(UV) run --frozen pytest -n 2 --dist loadfile

test-fast: setup       ## the unit and dagster tiers only (no servers, no whole pipelines)
	$(UV) run --frozen pytest -n 2 --dist loadfile -m "unit or dagster"

lint: setup            ## ruff lint + format check
	$(UV) run --frozen ruff check src tests benchmarks
	$(UV) run --frozen ruff format --check src tests benchmarks

format:
	$(UV) run --frozen ruff format src tests benchmarks
	$(UV) run --frozen ruff check --fix src tests benchmarks

demo: setup            ## a year of production traffic: drift, retraining, promotion
	$(UV) run --frozen modelops demo

DEMO := $(CURDIR)/.modelops/demo
DEMO_ENV := DAGSTER_HOME=$(DEMO)/dagster MODELOPS_HOME=$(DEMO) MODELOPS_SPECS_DIR=$(DEMO)/specs \
	MODELOPS_MLFLOW_UI_URL=http://127.0.0.1:5001 MODELOPS_REPORTS_URL=http://127.0.0.1:3003
# The demo's UI is for looking: the web server and the reports, no daemon, so no sensor or
# automation starts a run by itself on the finished story (`make ui` runs the daemon).
demo-ui: setup         ## the Dagster UI on the demo's sandbox, http://127.0.0.1:3001 (after `make demo`)
	@$(UV) run --frozen python -m modelops.ports 3001 3003
	$(DEMO_ENV) $(UV) run --frozen modelops reports --port 3003 & REPORTS=$$!; \
		trap 'kill $$REPORTS 2>/dev/null' EXIT INT TERM; \
		$(DEMO_ENV) $(UV) run --frozen dagster-webserver -w workspace.yaml -h 127.0.0.1 -p 3001

demo-mlflow-ui: setup  ## the MLflow UI of the demo's sandbox, http://127.0.0.1:5001
	@$(UV) run --frozen python -m modelops.ports 5001
	$(UV) run --frozen mlflow ui --backend-store-uri sqlite:///$(DEMO)/mlflow.db \
		--host 127.0.0.1 --port 5001

validate: setup        ## load settings and specs, list the assets
	$(UV) run --frozen modelops validate

serve: setup           ## the online scoring service of german_credit on http://127.0.0.1:8000
	$(UV) run --frozen modelops serve -u german_credit

ui: setup              ## the Dagster UI on http://127.0.0.1:3000, reports on :3002
	@$(UV) run --frozen python -m modelops.ports 3000 3002
	$(UV) run --frozen modelops reports --port 3002 & REPORTS=$$!; \
		trap 'kill $$REPORTS 2>/dev/null' EXIT INT TERM; \
		$(UV) run --frozen dg dev -h 127.0.0.1 -p 3000

mlflow-ui: setup       ## the MLflow UI on http://127.0.0.1:5000
	@$(UV) run --frozen python -m modelops.ports 5000
	$(UV) run --frozen mlflow ui --backend-store-uri sqlite:///$(CURDIR)/.modelops/mlflow.db \
		--host 127.0.0.1 --port 5000

benchmark: setup       ## Dagster vs bare script at 100k and 1M rows (takes a while)
	$(UV) run --frozen python benchmarks/pipeline_overhead.py --rows 100000 1000000

benchmark-serving: setup  ## One online decision: core vs sklearn/pyfunc/ONNX, then HTTP under wrk
	$(UV) run --frozen python benchmarks/serving_latency.py

clean:                 ## remove local state (instance, MLflow store, datasets)
	rm -rf .modelops
