# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
# Tools from npm (tailwindcss, binaryen's wasm-opt) come BEFORE /usr/bin: Debian's wasm-opt
# builds a wasm that never hydrates.
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
# One shared target dir for cargo, cargo-leptos, tests and benches.
export CARGO_TARGET_DIR := $(CURDIR)/target
export CONSOLE_CONFIG ?= $(CURDIR)/console.toml

.PHONY: run test lint tools services test-rust build test-e2e bench bench-quick bench-compare release image image-test soak screenshots

## Serve the console at http://127.0.0.1:3000 on embedded defaults (SQLite, demo catalog).
run: tools
	cargo leptos serve

## Every test: the lint gate, unit and integration (ssr), the hydrate (wasm) build, end-to-end in Chromium.
test: tools lint services test-rust build test-e2e

## The gate: formatting, then clippy with warnings as errors for the server (ssr) and the browser
## (hydrate, wasm) builds. Runs first in `make test`.
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo clippy -p app --no-default-features --features hydrate --target wasm32-unknown-unknown --locked -- -D warnings

tools:
	@.ci/install-tools

services:
	@.ci/start-services

# nextest runs each test in its own process: Leptos' executor is process-global, and several
# tokio runtimes in one test binary can strand its tasks.
test-rust:
	cargo nextest run --workspace --no-fail-fast

build:
	cargo leptos build

test-e2e:
	rm -rf target/e2e && mkdir -p target/e2e
	cd end2end && npx playwright test

## The README's screenshots (docs/screenshots/): the main pages at 390x844 and 1400x1000, light
## and dark, from the debug build against the e2e set-up.
screenshots: tools build
	rm -rf target/e2e && mkdir -p target/e2e docs/screenshots
	cd end2end && SCREENSHOTS=1 npx playwright test screenshots.spec.ts

## Benchmarks (release build): figures go to BENCHMARKS.md.
bench: tools services
	cargo build --release -p console --bin console
	cargo bench -p console --bench catalog
	cargo bench -p console_core --bench guard
	cargo bench -p console_core --bench query
	cargo bench -p console --bench kubernetes
	cargo bench -p console --bench repl

## The soak (not part of `make test`): two replicas on PostgreSQL, 5,000 pods, mixed traffic and a
## rolling restart for SOAK_MINUTES (default 60); samples and the plot in target/soak/.
soak: tools services
	cargo build --release -p console --bin console
	python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install --quiet matplotlib
	cargo bench -p console --bench soak; status=$$?; .ci/soak-plot; exit $$status

## The headline figures (guard, catalog, REPL route) in a few minutes, against BENCHMARKS.md.
bench-quick: tools services
	.ci/bench-quick

## Backstage's catalog backend (bench/backstage/, PostgreSQL on 5433) and the release console on one
## generated catalog: p50/p99 above each HTTP floor, import, RSS; target/bench-compare/result.md.
bench-compare: tools services
	python3 bench/backstage/compare.py

## The OCI image (daemonless, into target/image/) and its check: outside `make test` (a release
## musl build costs minutes).
image: tools
	.ci/image

image-test:
	.ci/image-test

release: tools
	cargo leptos build --release
