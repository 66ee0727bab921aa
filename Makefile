# Arbiter. `make demo` runs the app on the embedded defaults; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install chromium demo demo-check test test-fast test-security lint compose-check bench-labeling bench-training bench-noise bench-dashboard bench-export bench-generation bench-judge bench-loop bench-policy bench-soak screenshots clean test-floors

$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel first, so that nothing pulls a multi-GB CUDA build of torch.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	# The Python client (clients/python, package arbiter_client); tests/clients use it.
	$(BIN)/pip install -q -e ./clients/python
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# install also compiles the translations (locale/*/LC_MESSAGES/*.mo; they are committed too, so a
# clone without gettext still serves every language).
install: $(STAMP)
	@if command -v msgfmt >/dev/null; then \
	  SECRET_KEY=$${SECRET_KEY:-only-compiling-messages} $(BIN)/python manage.py compilemessages -i ".venv*" -v 0; \
	else echo "msgfmt (gettext) not found: the committed .mo files are used"; fi

# Browser tests drive Debian's chromium (never `playwright install`).
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: install
	./bin/demo

# The demo from nothing (temp SQLite, storage and broker), every page of it crawled as admin and
# annotator: ends with `pages=<n> empty=<n> errors=<n>`, non-zero unless both are 0.
# DEMO_CHECK_ARGS=--screenshots docs/screenshots also takes the README's pictures.
demo-check: install
	$(BIN)/python bin/demo_check.py $(DEMO_CHECK_ARGS)

# Tests that start workers, browsers or several processes wait on real time; on a loaded
# machine one may miss its deadline, so a failure is tried once more before it counts.
test: install chromium
	$(BIN)/python -m pytest --reruns 1 --reruns-delay 2

# The dependency floors are real: a venv of its own (.venv-floors) gets the CPU torch wheel, then every
# other direct dependency of pyproject.toml at the oldest version it allows (uv's lowest-direct resolution,
# torch pinned to what pip installed), and runs the trainer tests.
FLOORS := .venv-floors
# The floors run (also in .ci/run) takes the trainer tests that drive transformers, trl, peft, accelerate and
# datasets: the four reward objectives (pairwise, listwise, principle, reaction, LoRA included), decoder-LM
# reward models, DPO, KTO, LiPO, RAFT, SFT and online RL through TRL, the TRL bridge, accelerate's DDP and FSDP2
# with torchrun, checkpoints and resume, and the memory preflight (peft's adapters). The other trainer tests
# (losses, metrics, batching, inputs) use torch alone and run in `make test`. FLOORS_TESTS=tests/trainer for all.
FLOORS_TESTS ?= tests/trainer/test_reward_objectives.py tests/trainer/test_decoder_reward_models.py \
  tests/trainer/test_policy_objectives.py tests/trainer/policy/test_hf_bridge.py \
  tests/trainer/policy/test_online.py tests/trainer/test_sft.py tests/trainer/test_distributed.py \
  tests/trainer/test_memory.py tests/trainer/test_cancel_and_resume.py
UV     := $(FLOORS)/tools/bin/uv
# uv reads no pip.conf: it gets the index settings pip has (index-url, extra-index-url, find-links from pip's
# config files and PIP_* variables, as `pip config list` shows them) and merges the indexes as pip does
# (unsafe-best-match; uv's default takes a package only from the first index that has it, and a local index
# holding one old transformers then makes the floors unresolvable).
UV_INDEXES = $(shell $(PYTHON) -m pip config list 2>/dev/null \
  | sed -nE "s/^[^.]*\.(index-url|extra-index-url|find-links)='(.*)'$$/\1 \2/p" \
  | awk '{for (i = 2; i <= NF; i++) if (!seen[$$1 " " $$i]++) printf "--%s %s ", $$1, $$i}') \
  --index-strategy unsafe-best-match
test-floors:
	test -x $(FLOORS)/bin/python || $(PYTHON) -m venv $(FLOORS)
	$(FLOORS)/bin/pip install -q torch==2.13.0
	# uv lives outside the venv it resolves, so that syncing the venv cannot remove it.
	test -x $(FLOORS)/tools/bin/uv || $(FLOORS)/bin/pip install -q --target $(FLOORS)/tools uv
	$(FLOORS)/bin/python -c "import torch; print('torch==' + torch.__version__)" > $(FLOORS)/constraints.txt
	$(UV) pip compile -q --python $(FLOORS)/bin/python --resolution lowest-direct $(UV_INDEXES) \
	  -c $(FLOORS)/constraints.txt --extra dev pyproject.toml -o $(FLOORS)/floors.txt
	$(UV) pip sync -q --python $(FLOORS)/bin/python $(UV_INDEXES) $(FLOORS)/floors.txt
	$(UV) pip install -q --python $(FLOORS)/bin/python --no-deps -e .
	@grep -E "^(transformers|trl|peft|accelerate|datasets|torch)==" $(FLOORS)/floors.txt | tr '\n' ' '; echo
	$(FLOORS)/bin/python -m pytest -q -p no:cacheprovider -m "not slow" $(FLOORS_TESTS)

test-fast: install
	$(BIN)/python -m pytest -m "not browser and not slow and not worker"

# The security suite (also part of `make test`): the authorization matrix over every URL, hostile
# strings in chromium, NUL inputs, the import size limit and the SSRF guards. Its last line is
# routes=… refused_ok=… leaks=0 hostile_fields=… pwned=0 ssrf_forms=… ssrf_passed=0
test-security: install chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider --security-summary tests/security

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

compose-check:
	@command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
	docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml is valid"

# Benchmarks load the settings outside pytest: a throwaway key unless the environment sets one.
bench-labeling bench-training bench-noise bench-dashboard bench-export bench-generation bench-judge bench-soak bench-loop bench-policy: export SECRET_KEY ?= arbiter-bench-only-secret-key

bench-labeling: install
	$(BIN)/python bench/labeling/bench_labeling.py

# The decoder line first: the last line is the hard set's speedup_vs_trl=… accuracy=… line (issue 13).
bench-training: install
	$(BIN)/python bench/training/bench_work.py
	$(BIN)/python bench/training/bench_decoder.py
	$(BIN)/python bench/training/bench_training.py

# Each noise-robust reward option on against off (same seeds) on the hard set with 30 % label noise.
bench-noise: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/training/bench_noise.py

clean:
	rm -rf var staticfiles .pytest_cache

bench-dashboard: install
	$(BIN)/python bench/dashboard/bench_dashboard.py

# Refreshes the README's pictures: the browser tests save what they see.
screenshots: install chromium
	ARBITER_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -m browser tests/browser

bench-export: install
	$(BIN)/python bench/export/bench_export.py

bench-generation: install
	$(BIN)/python bench/generation/bench_generation.py

# A local judge labels 1,000 pairwise tasks in both orders, batched and one task at a time; ends with
# judged=1000 batched_per_s=… sequential_per_s=… position_bias=…
bench-judge: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/judge/bench_judge.py

# Simulated annotators label over HTTP against a hidden true reward (10 % noise); a training rule
# retrains every 60 labels for 4 rounds on a real worker; per round: accuracy, decision, latency.
bench-loop: install
	$(BIN)/python bench/loop/bench_loop.py

# Pretrains a tiny LM on a half-wrong format-following corpus (--task arithmetic: half-wrong
# additions), has simulated annotators (15 % noise) label pairs of
# its samples over HTTP, trains a reward model and DPO, KTO, RAFT, GRPO and RLOO policies through the
# app, and measures each on held-out prompts by the hidden truth; redraws docs/bench-policy.svg.
bench-policy: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/policy/bench_policy.py --json docs/bench-policy.json --chart docs/bench-policy.svg

# 200 annotators label over HTTP for 3 minutes while workers, database connections and Redis are
# killed; ends with annotators=… judgments=… lost=0 duplicated=0 over_assigned=0 stuck_jobs=0 errors_5xx=…
bench-soak: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/soak/bench_soak.py
