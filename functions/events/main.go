// Command events is the EventsFunction: it publishes every ledger entry of
// the ledger table's stream as an event on EventBridge.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/rewardrelay/rewardrelay/functions/events/handler"
	"github.com/rewardrelay/rewardrelay/shared/announce"
	"github.com/rewardrelay/rewardrelay/shared/bus"
	"github.com/rewardrelay/rewardrelay/shared/startup"
	"github.com/rewardrelay/rewardrelay/shared/wiring"
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
	busName, table := getenv("EVENT_BUS_NAME"), getenv("TABLE_NAME")
	if busName == "" {
		return f, handler.Handler{}, errors.New("EVENT_BUS_NAME is not set: the bus the reward events are published on")
	}
	if table == "" {
		return f, handler.Handler{}, wiring.ErrNoTable
	}
	a := &announce.Announcer{
		Bus: &bus.Publisher{Client: eventbridge.NewFromConfig(f.AWS), BusName: busName, Source: announce.Source},
		Log: f.Log, Now: time.Now,
	}
	// The platform budget's counter is in the ledger table.
	if fp := wiring.FirstPromoter(f.Get, dynamodb.NewFromConfig(f.AWS), table); fp != nil {
		a.FirstPromoter = fp
	} else {
		f.Log.Warn("FIRSTPROMOTER_API_KEY or FIRSTPROMOTER_ACCOUNT_ID is not set: FirstPromoter events carry no merchant_user_id")
	}
	return f, handler.Handler{Announcer: a, Log: f.Log, Now: time.Now}, nil
}
