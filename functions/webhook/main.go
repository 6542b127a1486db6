// Command webhook is the WebhookFunction: it authenticates and validates
// affiliate-platform webhooks and queues them for the processor.
package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/secret"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

func main() {
	log := telemetry.NewLogger(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	ctx := context.Background()
	fail := func(msg string, err error) {
		log.Error(msg, "error", err)
		os.Exit(1)
	}

	queueURL := os.Getenv("QUEUE_URL")
	if queueURL == "" {
		log.Error("QUEUE_URL is not set")
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fail("load AWS configuration", err)
	}
	settings := secret.Env()
	if arn := os.Getenv("SECRET_ARN"); arn != "" {
		if settings, err = secret.Load(ctx, secretsmanager.NewFromConfig(awsCfg), arn); err != nil {
			fail("load secret settings", err)
		}
	}
	ingest, err := webhook.New(webhook.Settings{
		FirstPromoter: webhook.FirstPromoterAuth{
			Secrets:     strings.Split(settings.Get("FIRSTPROMOTER_WEBHOOK_SECRETS"), ","),
			TokenHeader: settings.Get("FIRSTPROMOTER_WEBHOOK_TOKEN_HEADER"),
			Token:       settings.Get("FIRSTPROMOTER_WEBHOOK_TOKEN"),
			BasicAuth:   settings.Get("FIRSTPROMOTER_WEBHOOK_BASIC_AUTH"),
		},
		AgentRef: webhook.AgentRefAuth{
			Secrets:     strings.Split(settings.Get("AGENTREF_WEBHOOK_SECRETS"), ","),
			Environment: os.Getenv("AGENTREF_ENVIRONMENT"),
		},
	}, time.Now)
	if err != nil {
		fail("webhook settings", err)
	}
	for _, p := range ingest.Unconfigured() {
		log.Error("no webhook authentication is configured: every delivery from this provider is refused with 401", "provider", p)
	}

	h := Handler{
		Ingest: ingest,
		Queue:  &queue.Sender{Client: sqs.NewFromConfig(awsCfg), URL: queueURL},
		Log:    log,
		Now:    time.Now,
	}
	lambda.Start(h.Handle)
}
