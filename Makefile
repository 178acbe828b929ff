# certfree: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install sdk demo clean fuzz fuzz-merge fuzz-image fuzz-json lock audit bundles check-bundles js-test mutate mutate-report

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

SDK_FILES := sdk/pyproject.toml sdk/setup.py sdk/sdk_split.py

# Every dependency from the lock, each checked against its hash; then the project's two
# distributions from this tree, the verifier SDK (certfree-verifier, sdk/) first and then
# certfree, which depends on it (no dependencies of their own left to resolve, built with
# the locked setuptools).
$(STAMP): $(BIN)/python setup.cfg setup.py pyproject.toml $(SDK_FILES) requirements.lock
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e ./sdk
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The verifier SDK as a wheel, dist/certfree_verifier-*.whl: what a window installs alone
# (README, "The verifier SDK"). sdk/build is emptied first: setuptools would ship a stale file.
sdk: $(STAMP)
	rm -rf sdk/build
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist ./sdk

# Refresh requirements.lock from setup.cfg and sdk/pyproject.toml (the test extra included),
# with every hash: run after changing a requirement, then commit the lock. certfree-verifier
# is built here, not fetched: pip-compile reads it from a wheel of this tree and leaves it
# out of the lock (named only in a comment at its end), so no index can supply it.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet pip-tools
	rm -rf sdk/build build/sdk-wheel
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir build/sdk-wheel ./sdk
	$(BIN)/pip-compile --quiet --upgrade --extra test --all-build-deps --generate-hashes \
	  --unsafe-package certfree-verifier --find-links build/sdk-wheel --no-emit-find-links \
	  --strip-extras --no-emit-index-url --output-file requirements.lock setup.cfg sdk/pyproject.toml

# Known vulnerabilities in the locked versions (pip-audit, PyPI's advisory data). Where that
# data cannot be reached, it says so and fails: nothing audited is not "nothing found".
audit: $(BIN)/python
	$(BIN)/python -m pip install --quiet pip-audit
	$(BIN)/python tools/audit.py

install: $(STAMP)

# The service on 127.0.0.1:8000 with demo keys, operators and a demo resident (six licences).
# Plain http on localhost, so cookies go without the Secure flag; never do that in production.
run: $(STAMP)
	CERTFREE_INSECURE_COOKIES=1 $(BIN)/certfree serve --demo --bind 127.0.0.1:8000 --workers 2

# The command-line end-to-end demo (keys, six licences, QR codes, verification) into demo-out/.
demo: $(STAMP)
	$(BIN)/certfree demo --out demo-out --insecure-dev

# One pytest-xdist worker per core, each test file kept on one worker (its module fixtures
# are built once); each worker has its own PostgreSQL database and run log (tests/conftest.py).
# The fifteen slowest tests are listed at the end, so a run shows where its time goes.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=15
	$(MAKE) js-test

# Front-end code: each role's web home with a package.json (wallet/web, desk/web) holds its
# npm packages (pinned in its package-lock.json) and an esbuild bundle committed under its
# static folder, so `make run` and `make test` need no Node.js.
WEB_HOMES := $(patsubst %/package.json,%,$(wildcard */web/package.json))

# Rebuild every committed bundle from the pinned packages (needs Node.js and npm).
bundles:
	@for home in $(WEB_HOMES); do (cd $$home && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build) || exit 1; done

# CI: the committed bundles are exactly what the pinned packages and the sources build
# (under the web home's static/ or its role's, e.g. desk/web -> desk/static).
check-bundles: bundles
	git diff --exit-code --stat -- $(foreach h,$(WEB_HOMES),$(h)/static $(dir $(h))static) || \
	  { echo "a committed bundle differs from the rebuilt one: run make bundles and commit"; exit 1; }

# The JavaScript unit tests (node's own test runner), when node is installed; CI always has it.
js-test:
	@if command -v node >/dev/null; then \
	  for home in $(WEB_HOMES); do \
	    (cd $$home && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && node --test test/) || exit 1; \
	  done; \
	elif [ -n "$$CI" ]; then echo "CI: node is required for the JavaScript tests"; exit 1; \
	else echo "node not installed: JavaScript tests skipped (CI runs them)"; fi

clean:
	rm -rf $(VENV) demo-out .pytest_cache .hypothesis mutants

# Mutation testing (slow, so not part of `make test`): mutmut mutates the modules listed in
# pyproject.toml's [tool.mutmut] one change at a time and runs the tests that reach each
# change, with one worker; then prints the score per module and the survivors. MUTATE limits
# the run to some mutants by name, e.g. MUTATE='verifier._core*' or 'scenarios.policy*'.
# Each run starts from a fresh mutants/ (mutmut never refreshes a copied file), so a run
# limited with MUTATE reports only the modules it names.
MUTATE ?=
mutate: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutate]'
	rm -rf mutants  # mutmut copies a file once and never again: a stale copy would be tested
	$(BIN)/mutmut run --max-children 1 $(MUTATE)
	$(MAKE) --no-print-directory mutate-report

# The score and the survivors of the last run (with DIFFS=1, each survivor's change).
mutate-report:
	$(BIN)/python tests/mutation_report.py $(if $(DIFFS),--diffs)

# Fuzz the verifier's QR parser with atheris for FUZZ_SECONDS (new inputs land in fuzz/corpus).
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	$(BIN)/python fuzz/fuzz_qr.py fuzz/corpus -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1

# Fuzz reading QR codes out of images (verifier.decode_qr_image, and verifier._png against
# Pillow) for FUZZ_SECONDS; new inputs land in fuzz/image_corpus.
fuzz-image: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	$(BIN)/python fuzz/fuzz_image.py fuzz/image_corpus -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -rss_limit_mb=2048 -print_final_stats=1

# Fuzz the issuer API's JSON bodies through the whole app for FUZZ_SECONDS (no answer may be
# a 5xx); new inputs land in fuzz/json_corpus.
fuzz-json: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	$(BIN)/python fuzz/fuzz_json_api.py fuzz/json_corpus -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1

# Shrink fuzz/corpus to the smallest set of inputs with the same coverage (libFuzzer's
# merge re-runs the target as a program, so it needs the virtualenv's python on PATH).
fuzz-merge: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	rm -rf fuzz/.merged && mkdir fuzz/.merged
	PATH="$(CURDIR)/$(BIN):$$PATH" fuzz/fuzz_qr.py -merge=1 fuzz/.merged fuzz/corpus
	rm -rf fuzz/corpus && mv fuzz/.merged fuzz/corpus
