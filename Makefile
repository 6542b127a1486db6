# rewardrelay: build, test and run.
#
#   make test     unit + integration tests against the local emulators
#   make run      the whole stack on this machine
#   make lint     gofmt, go vet, staticcheck, the dependency rule, cfn-lint
#
# SAM calls build-<LogicalId> with ARTIFACTS_DIR set (BuildMethod: makefile).

GOARCH ?= arm64
ARTIFACTS_DIR ?= .aws-sam/manual
GO_LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) go build -trimpath -tags lambda.norpc -ldflags='-s -w'
EVENT ?= events/firstpromoter-commission-approved.json
# Extra flags for go test, e.g. make test TESTFLAGS='-run Webhook -v'
TESTFLAGS ?=

.PHONY: build-WebhookFunction build-ProcessorFunction build-ReconcilerFunction build test lint invoke-webhook invoke-processor invoke-reconciler run bench events clean

build-WebhookFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/webhook

build-ProcessorFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/processor

build-ReconcilerFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/reconciler

# All functions for linux/$(GOARCH) into .aws-sam/manual/<function>/bootstrap.
build:
	$(MAKE) build-WebhookFunction ARTIFACTS_DIR=$(ARTIFACTS_DIR)/WebhookFunction
	$(MAKE) build-ProcessorFunction ARTIFACTS_DIR=$(ARTIFACTS_DIR)/ProcessorFunction
	$(MAKE) build-ReconcilerFunction ARTIFACTS_DIR=$(ARTIFACTS_DIR)/ReconcilerFunction

test:
	emulators/with-emulators.sh go test -count=1 $(TESTFLAGS) ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	go tool staticcheck ./...
	.ci/deps
	@if command -v cfn-lint >/dev/null; then cfn-lint template.yaml && echo "cfn-lint: ok"; else echo "cfn-lint is not installed: template.yaml not linted"; fi

bench:
	emulators/with-emulators.sh go test -run '^$$' -bench . -benchmem ./...

# Rewrite events/ from the specs in functions/webhook/handler/events_test.go.
events:
	go test ./functions/webhook/handler -run TestSampleEvents -update

# sam local invoke needs Docker and an SQS endpoint reachable from the
# container: see events/env.json.
invoke-webhook:
	sam build WebhookFunction
	sam local invoke WebhookFunction --event $(EVENT) --env-vars events/env.json

invoke-processor:
	sam build ProcessorFunction
	sam local invoke ProcessorFunction --event events/sqs-agentref-batch.json --env-vars events/env.json

invoke-reconciler:
	sam build ReconcilerFunction
	sam local invoke ReconcilerFunction --event events/schedule-reconcile.json --env-vars events/env.json

# The stack runs as make's own child (exec), so a signal to make (SIGTERM,
# SIGHUP) or to the terminal's process group (Ctrl-C) reaches it, and it
# stops the emulators it started. PORT and REWARDRELAY_LOCAL_DIR run a
# second stack beside the first.
run:
	emulators/install.sh
	go build -o bin/rewardctl ./cmd/rewardctl
	exec bin/rewardctl local

clean:
	rm -rf .aws-sam emulators/logs bin
