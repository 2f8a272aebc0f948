# make run  - set everything up and start the assistant (action server 5055, Rasa 5005)
# make test - set everything up and run every test
SHELL := /bin/bash
PYTHON_310 ?= $(shell command -v python3.10 || echo python3.10)
VENV := .venv
PY := $(VENV)/bin/python
RASA := RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/rasa
SPACY_MODEL := .spacy/en_trust/meta.json
MODEL := models/trust.tar.gz
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml') bot/knowledge/vocabulary.yml bot/nlu/components.py bot/safety/patterns.yml

.PHONY: setup run shell test lint validate test-core test-py bench-safety train clean

setup: $(VENV)/.installed $(SPACY_MODEL) $(MODEL)

$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON_310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==24.0
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	touch $@

$(SPACY_MODEL): $(VENV)/.installed bot/spacy_pipeline.py bot/knowledge/vocabulary.yml
	$(PY) -m bot.spacy_pipeline

# Retrains only when data, config, domain or the NLU components changed.
$(MODEL): $(VENV)/.installed $(SPACY_MODEL) $(TRAINING_INPUTS)
	$(RASA) train --fixed-model-name trust

train: $(MODEL)

run: setup
	@trap 'kill 0' INT TERM EXIT; \
	$(RASA) run actions --port 5055 & \
	$(RASA) run -m $(MODEL) --port 5005 --credentials credentials.yml --endpoints endpoints.yml --cors "http://localhost:8080" & \
	wait

shell: setup
	$(RASA) shell -m $(MODEL) --endpoints endpoints.yml

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bot actions tests

validate: $(VENV)/.installed
	$(RASA) data validate --fail-on-warnings

test-core: setup
	$(RASA) test core -m $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors --out results/core

test-py: setup
	PYTHONPATH=. $(VENV)/bin/pytest -q tests

test: setup lint validate test-core test-py

bench-safety: $(VENV)/.installed $(SPACY_MODEL)
	PYTHONPATH=. $(PY) -m bot.safety.benchmark

clean:
	rm -rf models results .spacy
