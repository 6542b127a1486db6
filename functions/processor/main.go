// Command processor is the ProcessorFunction: it applies queued webhook
// events to the reward ledger and acknowledges deliveries on the platform.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/functions/processor/handler"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/secret"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

func main() {
	log := telemetry.NewLogger(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	ctx := context.Background()

	table := os.Getenv("TABLE_NAME")
	if table == "" {
		fail(log, "TABLE_NAME is not set", nil)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fail(log, "load AWS configuration", err)
	}
	settings, err := secret.FromEnvironment(ctx, awsCfg)
	if err != nil {
		fail(log, "load secret settings", err)
	}
	cfg, err := relay.ParseConfig(settings.Get)
	if err != nil {
		fail(log, "processor settings", err)
	}
	db := dynamodb.NewFromConfig(awsCfg)
	p := &relay.Processor{
		Store:  &dynamo.Store{Client: db, Table: table},
		Config: cfg,
		Log:    log,
		Now:    time.Now,
	}
	if key, account := settings.Get("FIRSTPROMOTER_API_KEY"), settings.Get("FIRSTPROMOTER_ACCOUNT_ID"); key != "" && account != "" {
		p.FirstPromoter = &firstpromoter.Client{
			BaseURL: settings.Get("FIRSTPROMOTER_API_URL"), APIKey: key, AccountID: account,
			HTTP:   &http.Client{Timeout: 10 * time.Second},
			Budget: dynamo.FirstPromoterBudget(db, table, account),
		}
	} else {
		log.Error("FIRSTPROMOTER_API_KEY or FIRSTPROMOTER_ACCOUNT_ID is not set: FirstPromoter events will fail and wait in the queue")
	}
	h := handler.Handler{Processor: p, Log: log, Now: time.Now}
	lambda.Start(h.Handle)
}

// fail logs why the function cannot start and exits.
func fail(log *slog.Logger, msg string, err error) {
	if err != nil {
		log.Error(msg, "error", err.Error())
	} else {
		log.Error(msg)
	}
	os.Exit(1)
}
