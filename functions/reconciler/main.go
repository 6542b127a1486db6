// Command reconciler is the ReconcilerFunction: on a schedule it makes the
// ledger and the platforms agree.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/functions/reconciler/handler"
	"github.com/rewardrelay/rewardrelay/shared/startup"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
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
	p, err := wiring.Processor(f.Get, dynamodb.NewFromConfig(f.AWS), getenv("TABLE_NAME"), f.Log)
	if err != nil {
		return f, handler.Handler{}, err
	}
	rc, err := wiring.Reconciler(f.Get, p)
	if err != nil {
		return f, handler.Handler{}, err
	}
	return f, handler.Handler{Reconciler: rc, Log: f.Log, Answers: telemetry.PlatformAnswers}, nil
}
