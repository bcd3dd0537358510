# Two entry points for a fresh Debian machine (run as root, or with sudo):
#   make serve   install what the service needs, build, and run it with ./rackboot.yaml if present
#   make test    install what the tests need, build, and run every test
.PHONY: serve test build deps-runtime deps-test bench
CONFIG ?= $(wildcard rackboot.yaml)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

build: node_modules/.installed
	npx tsc -p tsconfig.build.json

deps-runtime:
	bash scripts/install-deps.sh runtime

deps-test:
	bash scripts/install-deps.sh test

serve: deps-runtime build
	node dist/server/cli/main.js serve $(if $(CONFIG),--config $(CONFIG))

test: deps-test build
	npx tsc -p tsconfig.json
	npx vitest run

bench: deps-test build
	node dist/bench/run.js
