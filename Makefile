# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
# Tools from npm (tailwindcss, binaryen's wasm-opt) come BEFORE /usr/bin: Debian's wasm-opt
# builds a wasm that never hydrates.
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
# One shared target dir for cargo, cargo-leptos, tests and benches.
export CARGO_TARGET_DIR := $(CURDIR)/target
export CONSOLE_CONFIG ?= $(CURDIR)/console.toml

.PHONY: run test tools services test-rust build test-e2e bench release

## Serve the console at http://127.0.0.1:3000 on embedded defaults (SQLite, demo catalog).
run: tools
	cargo leptos serve

## Every test: unit and integration (ssr), the hydrate (wasm) build, end-to-end in Chromium.
test: tools services test-rust build test-e2e

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

## Benchmarks (release build): figures go to BENCHMARKS.md.
bench: tools services
	cargo build --release -p console --bin console
	cargo bench -p console --bench catalog
	cargo bench -p console_core --bench guard
	cargo bench -p console_core --bench query
	cargo bench -p console --bench kubernetes

release: tools
	cargo leptos build --release
