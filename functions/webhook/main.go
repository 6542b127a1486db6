// Command webhook is the WebhookFunction: it authenticates and validates
// affiliate-platform webhooks and queues them for the processor.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/startup"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

func main() {
	f, h, err := build(context.Background(), os.Getenv)
	if err != nil {
		f.Exit(err)
	}
	lambda.Start(h.Handle)
}

// build reads the configuration through getenv, once per cold start, and
// fills the handler.
func build(ctx context.Context, getenv func(string) string) (startup.Function, handler.Handler, error) {
	f, err := startup.Load(ctx, getenv)
	if err != nil {
		return f, handler.Handler{}, err
	}
	queueURL := getenv("QUEUE_URL")
	if queueURL == "" {
		return f, handler.Handler{}, errors.New("QUEUE_URL is not set")
	}
	ingest, err := webhook.New(handler.Settings(f.Get), time.Now)
	if err != nil {
		return f, handler.Handler{}, err
	}
	for _, p := range ingest.Unconfigured() {
		f.Log.Error("no webhook authentication is configured: every delivery from this provider is refused with 401", "provider", p)
	}
	return f, handler.Handler{
		Ingest: ingest,
		Queue:  &queue.Sender{Client: sqs.NewFromConfig(f.AWS), URL: queueURL},
		Log:    f.Log,
		Now:    time.Now,
	}, nil
}
