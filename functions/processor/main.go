// Command processor is the ProcessorFunction: it applies queued webhook
// events to the reward ledger and acknowledges deliveries on the platform.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/functions/processor/handler"
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
	h := handler.Handler{Processor: p, Log: f.Log, Now: time.Now}
	lambda.Start(h.Handle)
}
