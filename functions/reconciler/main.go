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
	"github.com/rewardrelay/rewardrelay/shared/wiring"
)

func main() {
	f, err := startup.Load(context.Background())
	if err != nil {
		f.Exit(err)
	}
	p, err := wiring.Processor(f.Get, dynamodb.NewFromConfig(f.AWS), os.Getenv("TABLE_NAME"), f.Log)
	if err != nil {
		f.Exit(err)
	}
	rc, err := wiring.Reconciler(f.Get, p)
	if err != nil {
		f.Exit(err)
	}
	h := handler.Handler{Reconciler: rc, Log: f.Log}
	lambda.Start(h.Handle)
}
