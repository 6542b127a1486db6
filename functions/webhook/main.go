// Command webhook is the WebhookFunction: it authenticates and validates
// affiliate-platform webhooks and queues them for the processor.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/secret"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

func main() {
	log := telemetry.NewLogger(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	ctx := context.Background()

	queueURL := os.Getenv("QUEUE_URL")
	if queueURL == "" {
		fail(log, "QUEUE_URL is not set", nil)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fail(log, "load AWS configuration", err)
	}
	settings, err := secret.FromEnvironment(ctx, awsCfg)
	if err != nil {
		fail(log, "load secret settings", err)
	}
	ingest, err := webhook.New(handler.Settings(settings.Get), time.Now)
	if err != nil {
		fail(log, "webhook settings", err)
	}
	for _, p := range ingest.Unconfigured() {
		log.Error("no webhook authentication is configured: every delivery from this provider is refused with 401", "provider", p)
	}

	h := handler.Handler{
		Ingest: ingest,
		Queue:  &queue.Sender{Client: sqs.NewFromConfig(awsCfg), URL: queueURL},
		Log:    log,
		Now:    time.Now,
	}
	lambda.Start(h.Handle)
}

// fail logs why the function cannot start and exits; Lambda reports the
// init failure and retries the cold start.
func fail(log *slog.Logger, msg string, err error) {
	if err != nil {
		log.Error(msg, "error", err.Error())
	} else {
		log.Error(msg)
	}
	os.Exit(1)
}
