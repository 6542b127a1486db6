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
	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/startup"
	"github.com/rewardrelay/rewardrelay/shared/wiring"
)

func main() {
	f, err := startup.Load(context.Background())
	queueURL := os.Getenv("QUEUE_URL")
	if err == nil && queueURL == "" {
		err = errors.New("QUEUE_URL is not set: deliveries that wait for a platform are queued there again")
	}
	if err != nil {
		f.Exit(err)
	}
	p, err := wiring.Processor(f.Get, dynamodb.NewFromConfig(f.AWS), os.Getenv("TABLE_NAME"), f.Log)
	if err != nil {
		f.Exit(err)
	}
	h := handler.Handler{Processor: p, Queue: &queue.Requeuer{Client: sqs.NewFromConfig(f.AWS), URL: queueURL}, Log: f.Log, Now: time.Now}
	lambda.Start(h.Handle)
}
