# healthwatch: every target sets up what it needs (the venv is created on first use).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TIER   ?= quick
ARGS   ?=

.PHONY: install run demo test lint bench bench-shards build deploy deploy-probe invoke-local clean browser

$(STAMP): pyproject.toml layers/healthwatch/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# Bytecode for the package, as a non-editable install has (where PYTHONDONTWRITEBYTECODE
	@# is set, nothing else writes it); a source edited later is seen and recompiled.
	$(BIN)/python -m compileall -q layers/healthwatch/healthwatch functions
	@touch $(STAMP)

install: $(STAMP)

## run every tier of checks.yaml once, with the local backend (results in ./.healthwatch)
run: $(STAMP)
	$(BIN)/healthwatch run --all $(ARGS)

## bundled demo services on 127.0.0.1: an incident triggered and resolved, chat posts printed
demo: $(STAMP)
	$(BIN)/python demo/demo.py

## headless Chromium for the status page's browser test (Debian's package, installed as root)
browser:
	@test -x /usr/bin/chromium || { if [ "$$(id -u)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "make browser: /usr/bin/chromium is missing; as root: apt-get install chromium" >&2; fi; }

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile $(ARGS)

# checkov in a venv of its own: its dependencies would fight the project's pins.
CHECKOV_VENV := .venv-checkov
CHECKOV      := $(CHECKOV_VENV)/bin/checkov
$(CHECKOV):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV) || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==3.3.30

lint: $(STAMP) $(CHECKOV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(CHECKOV) -f template.yaml -f template-probe.yaml --framework cloudformation --compact --quiet --skip-download

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_config.py
	$(BIN)/python benchmarks/bench_shards.py

## 20,000 checks in 10 shards, each a process behind a local Lambda Invoke API, beside one shard
bench-shards: $(STAMP)
	$(BIN)/python benchmarks/bench_shards.py

## sam validate --lint + sam build (needs the AWS SAM CLI); checks.yaml goes into each function,
## and the built tree is compiled to bytecode Lambda uses as it is (scripts/bytecode.py)
SAM    ?= sam
PARAMS ?=
build: $(STAMP)
	@command -v $(SAM) >/dev/null || { echo "make build needs the AWS SAM CLI: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html" >&2; exit 2; }
	$(SAM) validate --lint
	$(SAM) build
	for fn in .aws-sam/build/*Function; do cp checks.yaml "$$fn/checks.yaml" && \
		$(BIN)/healthwatch validate --compile --no-color --config "$$fn/checks.yaml" || exit 1; done
	$(BIN)/python scripts/bytecode.py .aws-sam/build

## sam deploy (--guided the first time, which saves the answers in samconfig.toml). The tier
## schedules come from checks.yaml (scripts/deploy_params.py), never from PARAMS, so the
## deployed schedule is the config's; PARAMS='AlertEmail=ops@example.com' sets the others.
deploy: build
	@case "$(PARAMS)" in *Schedule=*|*TierNames=*) \
		echo "make deploy: set schedules in checks.yaml (tiers.<name>.schedule), not in PARAMS" >&2; exit 2;; esac
	@schedules="$$($(BIN)/python -m scripts.deploy_params)" || exit 2; \
	if grep -qE '^[[:space:]]*region[[:space:]]*=' samconfig.toml; then \
		echo $(SAM) deploy --parameter-overrides $$schedules $(PARAMS); \
		eval "$(SAM) deploy --parameter-overrides $$schedules $(PARAMS)"; \
	else \
		eval "$(SAM) deploy --guided --parameter-overrides $$schedules $(PARAMS)"; \
	fi

## the probe-only stack of template-probe.yaml in another region (REGION=eu-west-1; see README)
REGION ?=
PROBE_STACK ?= healthwatch-probe
deploy-probe: $(STAMP)
	@test -n "$(REGION)" || { echo "make deploy-probe: set REGION (e.g. REGION=eu-west-1)" >&2; exit 2; }
	@command -v $(SAM) >/dev/null || { echo "make deploy-probe needs the AWS SAM CLI" >&2; exit 2; }
	$(SAM) validate --lint --template-file template-probe.yaml
	$(SAM) build --template-file template-probe.yaml --build-dir .aws-sam/probe
	cp checks.yaml .aws-sam/probe/ProbeFunction/checks.yaml
	$(BIN)/healthwatch validate --compile --no-color --config .aws-sam/probe/ProbeFunction/checks.yaml
	$(BIN)/python scripts/bytecode.py .aws-sam/probe
	$(SAM) deploy --template-file .aws-sam/probe/template.yaml --stack-name $(PROBE_STACK) \
		--region $(REGION) --capabilities CAPABILITY_IAM --resolve-s3 --no-fail-on-empty-changeset $(if $(PARAMS),--parameter-overrides $(PARAMS))

## run a handler in-process with events/ against template.yaml's stack in a local moto server
invoke-local: $(STAMP)
	$(BIN)/python -m scripts.invoke_local --tier $(TIER) $(ARGS)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .healthwatch .aws-sam .pytest_cache .mypy_cache .ruff_cache
