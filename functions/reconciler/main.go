// Command reconciler is the ReconcilerFunction: on a schedule it makes the
// ledger and the platforms agree.
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

	"github.com/rewardrelay/rewardrelay/functions/reconciler/handler"
	"github.com/rewardrelay/rewardrelay/shared/agentref"
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
	own, err := handler.Config(settings.Get)
	if err != nil {
		fail(log, "reconciler settings", err)
	}
	db := dynamodb.NewFromConfig(awsCfg)
	httpc := &http.Client{Timeout: 20 * time.Second}
	p := &relay.Processor{Store: &dynamo.Store{Client: db, Table: table}, Config: cfg, Log: log, Now: time.Now}
	rc := &relay.Reconciler{Processor: p, AutoApproveAfter: own.AutoApproveAfter, Lookback: own.Lookback, Margin: 10 * time.Second}
	if key, account := settings.Get("FIRSTPROMOTER_API_KEY"), settings.Get("FIRSTPROMOTER_ACCOUNT_ID"); key != "" && account != "" {
		fp := &firstpromoter.Client{
			BaseURL: settings.Get("FIRSTPROMOTER_API_URL"), APIKey: key, AccountID: account, HTTP: httpc,
			Budget: dynamo.FirstPromoterBudget(db, table, account),
		}
		p.FirstPromoter, rc.FirstPromoter = fp, fp
	} else {
		log.Warn("FIRSTPROMOTER_API_KEY or FIRSTPROMOTER_ACCOUNT_ID is not set: FirstPromoter is not reconciled")
	}
	if key := settings.Get("AGENTREF_API_KEY"); key != "" {
		rc.AgentRef = &agentref.Client{BaseURL: settings.Get("AGENTREF_API_URL"), APIKey: key, HTTP: httpc}
	} else {
		log.Warn("AGENTREF_API_KEY is not set: AgentRef is not reconciled (and its approvals are never posted)")
	}
	h := handler.Handler{Reconciler: rc, Log: log}
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
