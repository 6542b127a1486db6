// Command rewards is the RewardsApiFunction: the merchant's product reads
// balances and entries and spends rewards through the Rewards API.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/functions/rewards/handler"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/rewardsapi"
	"github.com/rewardrelay/rewardrelay/shared/startup"
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
	table := getenv("TABLE_NAME")
	if table == "" {
		return f, handler.Handler{}, errors.New("TABLE_NAME is not set")
	}
	store := &dynamo.Store{Client: dynamodb.NewFromConfig(f.AWS), Table: table}
	return f, handler.Handler{API: rewardsapi.API{Store: store, Now: time.Now}, Log: f.Log, Now: time.Now}, nil
}
