package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// localEndpointsFile is where make run leaves the emulators' endpoints.
const localEndpointsFile = ".local/endpoints"

// target is the stack a command works on: the local one when make run is
// running (or AWS_ENDPOINT_URL_DYNAMODB is set), else AWS with the usual
// credentials and TABLE_NAME.
type target struct {
	local bool
	cfg   aws.Config
	db    *dynamodb.Client
	table string
}

// useLocalEndpoints exports the running local stack's endpoints when the
// environment names none.
func useLocalEndpoints() (bool, error) {
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") != "" {
		return true, nil
	}
	f, err := os.Open(localEndpointsFile)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			os.Setenv(k, v)
		}
	}
	return true, sc.Err()
}

func openTarget(ctx context.Context) (*target, error) {
	local, err := useLocalEndpoints()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", localEndpointsFile, err)
	}
	t := &target{local: local, table: os.Getenv("TABLE_NAME")}
	if local {
		cfg, err := localAWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		t.cfg, t.db = cfg, localDynamoDB(cfg)
		if t.table == "" {
			t.table = "rewardrelay-ledger"
		}
		return t, nil
	}
	if t.table == "" {
		return nil, fmt.Errorf("TABLE_NAME is not set: give the ledger table (the stack's LedgerTableName output), or start the local stack with make run")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	t.cfg, t.db = cfg, dynamodb.NewFromConfig(cfg)
	return t, nil
}

func (t *target) store() *dynamo.Store { return &dynamo.Store{Client: t.db, Table: t.table} }

// check fails clearly when the table cannot be reached.
func (t *target) check(ctx context.Context) error {
	_, err := t.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.table)})
	if err != nil {
		where := "AWS"
		if t.local {
			where = "the local stack (" + os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") + ")"
		}
		return fmt.Errorf("table %s in %s: %w (missing table, wrong credentials or endpoint unreachable?)", t.table, where, err)
	}
	return nil
}

// ledger reads the whole ledger of the target stack.
func ledger(ctx context.Context) (reward.Ledger, error) {
	t, err := openTarget(ctx)
	if err != nil {
		return reward.Ledger{}, err
	}
	if err := t.check(ctx); err != nil {
		return reward.Ledger{}, err
	}
	return t.store().Ledger(ctx)
}
