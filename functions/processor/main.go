// Command processor is the ProcessorFunction: it applies queued webhook
// events to the reward ledger and acknowledges deliveries on the platform.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewardrelay/rewardrelay/functions/processor/handler"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/queue"
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
	queueURL := getenv("QUEUE_URL")
	if queueURL == "" {
		return f, handler.Handler{}, errors.New("QUEUE_URL is not set: deliveries that wait for a platform are queued there again")
	}
	db, table := dynamodb.NewFromConfig(f.AWS), getenv("TABLE_NAME")
	p, err := wiring.Processor(f.Get, db, table, f.Log)
	if err != nil {
		return f, handler.Handler{}, err
	}
	requeue := &queue.Requeuer{Client: sqs.NewFromConfig(f.AWS), URL: queueURL}
	return f, handler.Handler{Processor: p, Queue: requeue, Log: f.Log, Now: time.Now, Answers: telemetry.PlatformAnswers,
		Failures: &dynamo.Store{Client: db, Table: table}}, nil
}
