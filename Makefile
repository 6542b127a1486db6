# rewardrelay: build, test and run. `make help` lists the targets.
#
# SAM calls build-<LogicalId> with ARTIFACTS_DIR set (BuildMethod: makefile).

GOARCH ?= arm64
ARTIFACTS_DIR ?= .aws-sam/manual
GO_LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) go build -trimpath -tags lambda.norpc -ldflags='-s -w'
EVENT ?= events/firstpromoter-commission-approved.json
# Extra flags for go test, e.g. make test TESTFLAGS='-run Webhook -v'
TESTFLAGS ?=

.PHONY: help build-WebhookFunction build-ProcessorFunction build-ReconcilerFunction build-RewardsApiFunction build-EventsFunction build rewardctl test lint invoke-webhook invoke-processor invoke-reconciler invoke-rewards invoke-events run bench events clean
.DEFAULT_GOAL := help

help: ## this list
	@echo "make <target>, one of:"
	@awk '{ l = $$0; sub(/^## /, "", l) } l ~ /^[a-zA-Z_<>-]+:[^#]*## / { t = l; sub(/:.*/, "", t); d = l; sub(/^[^#]*## /, "", d); printf "  %-26s %s\n", t, d }' $(MAKEFILE_LIST)
	@echo "Variables: PORT (make run's API, default 3000), REWARDRELAY_LOCAL_DIR (a second local stack's"
	@echo "directory), LOG_LEVEL (the local functions' log level, default INFO), TESTFLAGS (extra"
	@echo "go test flags, e.g. TESTFLAGS='-run Webhook -v'), EVENT (make invoke-webhook's sample),"
	@echo "GOARCH (the functions' architecture, default arm64)."

## build-<LogicalId>: ## one function for sam build, which sets ARTIFACTS_DIR
build-WebhookFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/webhook

build-ProcessorFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/processor

build-ReconcilerFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/reconciler

build-RewardsApiFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/rewards

build-EventsFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/events

# All functions for linux/$(GOARCH) into .aws-sam/manual/<function>/bootstrap.
build: ## every function for linux (GOARCH, default arm64) into .aws-sam/manual
	$(MAKE) build-WebhookFunction ARTIFACTS_DIR=$(ARTIFACTS_DIR)/WebhookFunction
	$(MAKE) build-ProcessorFunction ARTIFACTS_DIR=$(ARTIFACTS_DIR)/ProcessorFunction
	$(MAKE) build-ReconcilerFunction ARTIFACTS_DIR=$(ARTIFACTS_DIR)/ReconcilerFunction
	$(MAKE) build-RewardsApiFunction ARTIFACTS_DIR=$(ARTIFACTS_DIR)/RewardsApiFunction
	$(MAKE) build-EventsFunction ARTIFACTS_DIR=$(ARTIFACTS_DIR)/EventsFunction

# rewardctl, its version and commit stamped where the checkout is a git one.
rewardctl: ## bin/rewardctl, the operator CLI
	go build -buildvcs=auto -o bin/rewardctl ./cmd/rewardctl

# go test -json through .ci/testsummary: go test's own lines, then one
# summary line (packages, tests, which emulator they ran against, time).
test: ## every test against the emulators, started and stopped for the run
	go build -o bin/testsummary ./.ci/testsummary
	emulators/with-emulators.sh bin/testsummary go test -count=1 -timeout 30m -json $(TESTFLAGS) ./... ./.ci/testsummary

lint: ## gofmt, go vet, staticcheck, the dependency rule, cfn-lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./... ./.ci/testsummary
	go tool staticcheck ./... ./.ci/testsummary
	.ci/deps
	@if command -v cfn-lint >/dev/null; then cfn-lint template.yaml && echo "cfn-lint: ok"; else echo "cfn-lint is not installed: template.yaml not linted"; fi

bench: ## the benchmarks, against the emulators
	emulators/with-emulators.sh go test -run '^$$' -bench . -benchmem ./...

# Rewrite events/ from the specs in functions/webhook/handler/events_test.go.
events: ## rewrite events/ from their specs
	go test ./functions/webhook/handler -run TestSampleEvents -update

# sam local invoke needs Docker and an SQS endpoint reachable from the
# container: see events/env.json.
invoke-webhook: ## sam local invoke of the webhook function with EVENT (Docker)
	sam build WebhookFunction
	sam local invoke WebhookFunction --event $(EVENT) --env-vars events/env.json

invoke-processor: ## sam local invoke of the processor (Docker)
	sam build ProcessorFunction
	sam local invoke ProcessorFunction --event events/sqs-agentref-batch.json --env-vars events/env.json

invoke-reconciler: ## sam local invoke of the reconciler (Docker)
	sam build ReconcilerFunction
	sam local invoke ReconcilerFunction --event events/schedule-reconcile.json --env-vars events/env.json

invoke-rewards: ## sam local invoke of the Rewards API with EVENT (Docker; events/rewards-*.json)
	sam build RewardsApiFunction
	sam local invoke RewardsApiFunction --event $(EVENT) --env-vars events/env.json

invoke-events: ## sam local invoke of the events function (Docker; needs an EventBridge endpoint)
	sam build EventsFunction
	sam local invoke EventsFunction --event events/dynamodb-ledger-stream.json --env-vars events/env.json

# The stack runs as make's own child (exec), so a signal to make (SIGTERM,
# SIGHUP) or to the terminal's process group (Ctrl-C) reaches it, and it
# stops the emulators it started. PORT and REWARDRELAY_LOCAL_DIR run a
# second stack beside the first.
run: rewardctl ## the whole stack on this machine, until Ctrl-C
	emulators/install.sh
	exec bin/rewardctl local

clean: ## remove build output and emulator logs
	rm -rf .aws-sam emulators/logs bin
