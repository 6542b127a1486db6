package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	processorhandler "github.com/rewardrelay/rewardrelay/functions/processor/handler"
	rewardshandler "github.com/rewardrelay/rewardrelay/functions/rewards/handler"
	webhookhandler "github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/rewardsapi"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
	"github.com/rewardrelay/rewardrelay/shared/wiring"
)

// Stack is rewardrelay running on this machine: the template's queues and
// ledger table in the emulators, and the function handlers behind a local
// HTTP API, an event source mapping and a schedule.
type Stack struct {
	Template *stack.Template
	SQS      *sqs.Client
	DynamoDB *dynamodb.Client
	// Get reads a function setting: the local settings, with the platform
	// addresses and keys the stack chose.
	Get func(string) string
	Log *slog.Logger
	// Prefix starts every resource name.
	Prefix string
	// Stats, when set, counts the functions' work; GET /_local/stats
	// serves it.
	Stats *Stats
	// WrapProcessor, when set, wraps the processor's handler (a test's
	// crash mid-batch).
	WrapProcessor func(SQSHandler) SQSHandler
	// NoSchedule leaves the reconciler to the caller: Serve runs no
	// schedule.
	NoSchedule bool
	// Streams reads the ledger table's stream and EventsFile is the local
	// bus, a file of JSON lines: with both set, Serve feeds the stream to
	// the events function, which publishes there. EventsDB, when set, is
	// the events function's DynamoDB client (the platform budget), apart
	// from the one Stats counts.
	Streams    *dynamodbstreams.Client
	EventsFile string
	EventsDB   *dynamodb.Client

	// Set by Provision.
	QueueURL string
	QueueARN string
	DLQURL   string
	Table    string
}

// Provision creates the queues and the ledger table from the template's own
// definitions.
func (s *Stack) Provision(ctx context.Context) error {
	if err := s.createQueues(ctx); err != nil {
		return err
	}
	return s.createTable(ctx)
}

// createQueues creates the dead-letter queue and the event queue from the
// template's own definitions.
func (s *Stack) createQueues(ctx context.Context) error {
	dlqAttrs, err := s.Template.QueueAttributes("DeadLetterQueue", nil)
	if err != nil {
		return err
	}
	if s.DLQURL, err = s.createQueue(ctx, s.Prefix+"-DeadLetterQueue", dlqAttrs); err != nil {
		return err
	}
	dlqARN, err := s.queueARN(ctx, s.DLQURL)
	if err != nil {
		return fmt.Errorf("dead-letter queue ARN: %w", err)
	}
	attrs, err := s.Template.QueueAttributes("EventQueue", func(id string) (string, bool) {
		return dlqARN, id == "DeadLetterQueue.Arn"
	})
	if err != nil {
		return err
	}
	if s.QueueURL, err = s.createQueue(ctx, s.Prefix+"-EventQueue", attrs); err != nil {
		return err
	}
	if s.QueueARN, err = s.queueARN(ctx, s.QueueURL); err != nil {
		return fmt.Errorf("event queue ARN: %w", err)
	}
	return nil
}

func (s *Stack) queueARN(ctx context.Context, url string) (string, error) {
	out, err := s.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", err
	}
	return out.Attributes["QueueArn"], nil
}

func (s *Stack) createQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	out, err := s.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// createTable creates the ledger table from the template, unless it exists.
func (s *Stack) createTable(ctx context.Context) error {
	s.Table = s.Prefix + "-ledger"
	if _, err := s.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.Table)}); err == nil {
		return nil
	}
	in, ttl, err := s.Template.Table("LedgerTable", s.Table)
	if err != nil {
		return err
	}
	return stack.CreateTable(ctx, s.DynamoDB, in, ttl)
}

// processorHandler builds the ProcessorFunction handler exactly as its main
// does, against the local table and platforms.
func (s *Stack) processorHandler() (*processorhandler.Handler, error) {
	p, err := wiring.Processor(s.Get, s.DynamoDB, s.Table, s.Log)
	if err != nil {
		return nil, err
	}
	return &processorhandler.Handler{Processor: p, Queue: countingRequeue{&queue.Requeuer{Client: s.SQS, URL: s.QueueURL}}, Log: s.Log, Now: time.Now, Answers: telemetry.PlatformAnswers,
		Failures: &dynamo.Store{Client: s.DynamoDB, Table: s.Table}}, nil
}

// Reconciler builds the ReconcilerFunction's reconciler exactly as its main
// does.
func (s *Stack) Reconciler() (*relay.Reconciler, error) {
	p, err := wiring.Processor(s.Get, s.DynamoDB, s.Table, s.Log)
	if err != nil {
		return nil, err
	}
	return wiring.Reconciler(s.Get, p)
}

// poller feeds the event queue to the processor with the template's
// batching settings.
func (s *Stack) poller() (*poller, error) {
	ph, err := s.processorHandler()
	if err != nil {
		return nil, err
	}
	param := func(name string) (int, error) {
		n, err := strconv.Atoi(fmt.Sprint(s.Template.Parameters[name].Default))
		if err != nil {
			return 0, fmt.Errorf("template %s: %w", name, err)
		}
		return n, nil
	}
	size, err := param("ProcessorBatchSize")
	if err != nil {
		return nil, err
	}
	window, err := param("ProcessorBatchWindowSeconds")
	if err != nil {
		return nil, err
	}
	concurrency, err := param("ProcessorMaxConcurrency")
	if err != nil {
		return nil, err
	}
	return &poller{sqs: s.SQS, queueURL: s.QueueURL, queueARN: s.QueueARN, batchSize: size, window: time.Duration(window) * time.Second,
		concurrency: concurrency, handler: ph.Handle, log: s.Log}, nil
}

// webhookHandler builds the WebhookFunction handler the way its main does,
// with the local settings.
func (s *Stack) webhookHandler() (*webhookhandler.Handler, error) {
	in, err := webhook.New(webhookhandler.Settings(s.Get), time.Now)
	if err != nil {
		return nil, err
	}
	for _, p := range in.Unconfigured() {
		s.Log.Error("no webhook authentication is configured: every delivery from this provider is refused with 401", "provider", p)
	}
	return &webhookhandler.Handler{
		Ingest: in,
		Queue:  &queue.Sender{Client: s.SQS, URL: s.QueueURL},
		Log:    s.Log,
		Now:    time.Now,
	}, nil
}

// rewardsHandler builds the RewardsApiFunction handler as its main does;
// the local stack has no IAM, so every caller is the actor "local".
func (s *Stack) rewardsHandler() *rewardshandler.Handler {
	return &rewardshandler.Handler{
		API: rewardsapi.API{Store: &dynamo.Store{Client: s.DynamoDB, Table: s.Table}, Now: time.Now},
		Log: s.Log, Now: time.Now, DefaultActor: LocalActor,
	}
}

// LocalActor is the actor of the local Rewards API's writes.
const LocalActor = "local"

// Serve runs the local HTTP API on ln, the processor's poller and the
// reconciler's schedule until ctx is done.
func (s *Stack) Serve(ctx context.Context, ln net.Listener) error {
	wh, err := s.webhookHandler()
	if err != nil {
		return err
	}
	pl, err := s.poller()
	if err != nil {
		return err
	}
	routes := []route{newRoute("POST /webhooks/{provider}", wh.Handle)}
	rh := s.rewardsHandler()
	for _, key := range rewardsapi.Routes() {
		routes = append(routes, newRoute(key, rh.Handle))
	}
	var api http.Handler = &apiGateway{now: time.Now, routes: routes}
	if s.Stats != nil {
		pl.handler = s.Stats.CountBatches(pl.handler)
		pl.settled = s.Stats.countSettled
		mux := http.NewServeMux()
		mux.Handle("GET /_local/stats", s.Stats)
		mux.Handle("/", api)
		api = mux
	}
	if s.WrapProcessor != nil {
		pl.handler = s.WrapProcessor(pl.handler)
	}
	polling := make(chan struct{})
	go func() { defer close(polling); pl.runAll(ctx) }()
	defer func() { <-polling }()
	if s.Streams != nil && s.EventsFile != "" {
		announcing := make(chan struct{})
		go func() {
			defer close(announcing)
			sink := &Sink{Path: s.EventsFile, Now: time.Now}
			sp, err := s.streamPoller(ctx, sink, s.Streams)
			if err != nil {
				if ctx.Err() == nil {
					s.Log.Error("the events function cannot run", "error", err.Error())
				}
				return
			}
			if s.Stats != nil {
				s.Stats.setEvents(sp, sink)
			}
			sp.run(ctx)
		}()
		defer func() { <-announcing }()
	}
	if !s.NoSchedule {
		reconciling := make(chan struct{})
		go func() {
			defer close(reconciling)
			if err := s.schedule(ctx); err != nil {
				s.Log.Error("the reconciler cannot run", "error", err.Error())
			}
		}()
		defer func() { <-reconciling }()
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
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
