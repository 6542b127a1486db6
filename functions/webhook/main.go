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
	f, err := startup.Load(context.Background())
	queueURL := os.Getenv("QUEUE_URL")
	if err == nil && queueURL == "" {
		err = errors.New("QUEUE_URL is not set")
	}
	var ingest *webhook.Ingest
	if err == nil {
		ingest, err = webhook.New(handler.Settings(f.Get), time.Now)
	}
	if err != nil {
		f.Exit(err)
	}
	for _, p := range ingest.Unconfigured() {
		f.Log.Error("no webhook authentication is configured: every delivery from this provider is refused with 401", "provider", p)
	}
	h := handler.Handler{
		Ingest: ingest,
		Queue:  &queue.Sender{Client: sqs.NewFromConfig(f.AWS), URL: queueURL},
		Log:    f.Log,
		Now:    time.Now,
	}
	lambda.Start(h.Handle)
}
