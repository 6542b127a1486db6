package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aws/aws-lambda-go/events"

	processorhandler "github.com/rewardrelay/rewardrelay/functions/processor/handler"
	reconcilerhandler "github.com/rewardrelay/rewardrelay/functions/reconciler/handler"
	webhookhandler "github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
	"github.com/rewardrelay/rewardrelay/shared/wiring"
)

// localStack is rewardrelay running on this machine: the template's queues in
// the SQS emulator and the function handlers behind a local HTTP API.
type localStack struct {
	tpl      *stack.Template
	sqs      *sqs.Client
	db       *dynamodb.Client
	settings localDefaults
	log      *slog.Logger
	prefix   string // resource name prefix
	// stats, when set, counts the functions' work; GET /_local/stats
	// serves it.
	stats *localStats

	queueURL string
	queueARN string
	dlqURL   string
	table    string
	// fpURL and fpKey, fpAccount reach FirstPromoter, arURL and arKey
	// AgentRef: the simulator unless the API URLs are set.
	fpURL, fpKey, fpAccount string
	arURL, arKey            string
}

// createQueues creates the dead-letter queue and the event queue from the
// template's own definitions.
func (s *localStack) createQueues(ctx context.Context) error {
	dlqAttrs, err := s.tpl.QueueAttributes("DeadLetterQueue", nil)
	if err != nil {
		return err
	}
	if s.dlqURL, err = s.createQueue(ctx, s.prefix+"-DeadLetterQueue", dlqAttrs); err != nil {
		return err
	}
	out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.dlqURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("dead-letter queue ARN: %w", err)
	}
	dlqARN := out.Attributes["QueueArn"]
	attrs, err := s.tpl.QueueAttributes("EventQueue", func(id string) (string, bool) {
		return dlqARN, id == "DeadLetterQueue.Arn"
	})
	if err != nil {
		return err
	}
	if s.queueURL, err = s.createQueue(ctx, s.prefix+"-EventQueue", attrs); err != nil {
		return err
	}
	out, err = s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.queueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("event queue ARN: %w", err)
	}
	s.queueARN = out.Attributes["QueueArn"]
	return nil
}

// createTable creates the ledger table from the template, unless it exists.
func (s *localStack) createTable(ctx context.Context) error {
	s.table = s.prefix + "-ledger"
	if _, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}); err == nil {
		return nil
	}
	in, ttl, err := s.tpl.Table("LedgerTable", s.table)
	if err != nil {
		return err
	}
	return stack.CreateTable(ctx, s.db, in, ttl)
}

// get is the local settings, with the platform addresses and keys the
// local stack chose (the simulator's, unless real URLs are set).
func (s *localStack) get(key string) string {
	switch key {
	case "FIRSTPROMOTER_API_URL":
		return s.fpURL
	case "FIRSTPROMOTER_API_KEY":
		return s.fpKey
	case "FIRSTPROMOTER_ACCOUNT_ID":
		return s.fpAccount
	case "AGENTREF_API_URL":
		return s.arURL
	case "AGENTREF_API_KEY":
		return s.arKey
	}
	return s.settings.get(key)
}

// processorHandler builds the ProcessorFunction handler exactly as its main
// does, against the local table and platforms.
func (s *localStack) processorHandler() (*processorhandler.Handler, error) {
	p, err := wiring.Processor(s.get, s.db, s.table, s.log)
	if err != nil {
		return nil, err
	}
	return &processorhandler.Handler{Processor: p, Queue: &queue.Requeuer{Client: s.sqs, URL: s.queueURL}, Log: s.log, Now: time.Now, Answers: telemetry.PlatformAnswers}, nil
}

// reconciler builds the ReconcilerFunction's reconciler exactly as its main
// does.
func (s *localStack) reconciler() (*relay.Reconciler, error) {
	p, err := wiring.Processor(s.get, s.db, s.table, s.log)
	if err != nil {
		return nil, err
	}
	return wiring.Reconciler(s.get, p)
}

// schedule runs the reconciler now and then at the template's rate, each
// run within the template's timeout, until ctx is done.
func (s *localStack) schedule(ctx context.Context) error {
	rc, err := s.reconciler()
	if err != nil {
		return err
	}
	expr, err := s.tpl.ScheduleExpression("ReconcilerFunction", nil)
	if err != nil {
		return err
	}
	every, err := scheduleRate(expr)
	if err != nil {
		return err
	}
	timeout, err := strconv.Atoi(fmt.Sprint(s.tpl.Parameters["ReconcilerTimeout"].Default))
	if err != nil {
		return fmt.Errorf("template ReconcilerTimeout: %w", err)
	}
	h := reconcilerhandler.Handler{Reconciler: rc, Log: s.log, Answers: telemetry.PlatformAnswers}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		runCtx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second)
		if err := h.Handle(runCtx, events.CloudWatchEvent{DetailType: "Scheduled Event", Source: "aws.events", Time: time.Now()}); err != nil {
			s.log.Error("reconciler run failed", "error", err.Error())
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// scheduleRate reads an EventBridge rate expression: rate(5 minutes).
func scheduleRate(expr string) (time.Duration, error) {
	var n int
	var unit string
	if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(expr, "rate("), ")"), "%d %s", &n, &unit); err != nil || n <= 0 {
		return 0, fmt.Errorf("schedule %q: only rate(N unit) runs locally", expr)
	}
	switch strings.TrimSuffix(unit, "s") {
	case "minute":
		return time.Duration(n) * time.Minute, nil
	case "hour":
		return time.Duration(n) * time.Hour, nil
	case "day":
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return 0, fmt.Errorf("schedule %q: unknown unit %q", expr, unit)
}

// poller feeds the event queue to the processor with the template's
// batching settings.
func (s *localStack) poller() (*poller, error) {
	ph, err := s.processorHandler()
	if err != nil {
		return nil, err
	}
	size, err := strconv.Atoi(fmt.Sprint(s.tpl.Parameters["ProcessorBatchSize"].Default))
	if err != nil {
		return nil, fmt.Errorf("template ProcessorBatchSize: %w", err)
	}
	window, err := strconv.Atoi(fmt.Sprint(s.tpl.Parameters["ProcessorBatchWindowSeconds"].Default))
	if err != nil {
		return nil, fmt.Errorf("template ProcessorBatchWindowSeconds: %w", err)
	}
	concurrency, err := strconv.Atoi(fmt.Sprint(s.tpl.Parameters["ProcessorMaxConcurrency"].Default))
	if err != nil {
		return nil, fmt.Errorf("template ProcessorMaxConcurrency: %w", err)
	}
	return &poller{sqs: s.sqs, queueURL: s.queueURL, queueARN: s.queueARN, batchSize: size, window: time.Duration(window) * time.Second,
		concurrency: concurrency, handler: ph.Handle, log: s.log}, nil
}

func (s *localStack) createQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	out, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// webhookHandler builds the WebhookFunction handler the way its main does,
// with the local settings.
func (s *localStack) webhookHandler() (*webhookhandler.Handler, error) {
	in, err := webhook.New(webhookhandler.Settings(s.settings.get), time.Now)
	if err != nil {
		return nil, err
	}
	for _, p := range in.Unconfigured() {
		s.log.Error("no webhook authentication is configured: every delivery from this provider is refused with 401", "provider", p)
	}
	return &webhookhandler.Handler{
		Ingest: in,
		Queue:  &queue.Sender{Client: s.sqs, URL: s.queueURL},
		Log:    s.log,
		Now:    time.Now,
	}, nil
}

// serve runs the local HTTP API on ln and the processor's poller until ctx
// is done.
func (s *localStack) serve(ctx context.Context, ln net.Listener) error {
	wh, err := s.webhookHandler()
	if err != nil {
		return err
	}
	pl, err := s.poller()
	if err != nil {
		return err
	}
	var api http.Handler = &apiGateway{now: time.Now, routes: []route{newRoute("POST /webhooks/{provider}", wh.Handle)}}
	if s.stats != nil {
		pl.handler = s.stats.countBatches(pl.handler)
		mux := http.NewServeMux()
		mux.Handle("GET /_local/stats", s.stats)
		mux.Handle("/", api)
		api = mux
	}
	polling := make(chan struct{})
	go func() { defer close(polling); pl.runAll(ctx) }()
	defer func() { <-polling }()
	reconciling := make(chan struct{})
	go func() {
		defer close(reconciling)
		if err := s.schedule(ctx); err != nil {
			s.log.Error("the reconciler cannot run", "error", err.Error())
		}
	}()
	defer func() { <-reconciling }()
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			return err
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

func (s *localStack) banner(w io.Writer, baseURL string) {
	fmt.Fprintf(w, `
rewardrelay is running locally.

  webhook URLs     %[1]s/webhooks/firstpromoter
                   %[1]s/webhooks/agentref
  event queue      %[2]s
  dead letters     %[3]s
  ledger table     %[6]s
  FirstPromoter    %[7]s
  AgentRef         %[8]s

  local secrets (events/env.json; override with the same variables):
    FIRSTPROMOTER_WEBHOOK_SECRETS=%[4]s
    AGENTREF_WEBHOOK_SECRETS=%[5]s

  send a first webhook, signed like the platform signs it, then look:
    go run ./cmd/rewardctl send events/firstpromoter-commission-approved.json --url %[1]s
    go run ./cmd/rewardctl send events/agentref-conversion-created.json --url %[1]s
    go run ./cmd/rewardctl balances

  drive realistic traffic through it and check the outcome, or measure it:
    go run ./cmd/rewardctl simulate
    go run ./cmd/rewardctl simulate --load

Ctrl-C stops everything.
`, baseURL, s.queueURL, s.dlqURL, s.settings.get("FIRSTPROMOTER_WEBHOOK_SECRETS"), s.settings.get("AGENTREF_WEBHOOK_SECRETS"), s.table, s.fpURL, s.arURL)
}
