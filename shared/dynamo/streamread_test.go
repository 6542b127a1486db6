package dynamo

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// fakeStream has two shards of one record each; shard "b" fails its
// first read.
type fakeStream struct {
	failB int
}

func (f *fakeStream) DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: &streamtypes.StreamDescription{Shards: []streamtypes.Shard{{ShardId: aws.String("a")}, {ShardId: aws.String("b")}}}}, nil
}

func (f *fakeStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(aws.ToString(in.ShardId) + "/0")}, nil
}

func (f *fakeStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	it := aws.ToString(in.ShardIterator)
	shard, pos := it[:1], it[2:]
	if shard == "b" && f.failB > 0 {
		f.failB--
		return nil, errors.New("connection reset")
	}
	if pos != "0" {
		return &dynamodbstreams.GetRecordsOutput{NextShardIterator: in.ShardIterator}, nil
	}
	return &dynamodbstreams.GetRecordsOutput{
		Records:           []streamtypes.Record{{Dynamodb: &streamtypes.StreamRecord{SequenceNumber: aws.String(shard + "1")}}},
		NextShardIterator: aws.String(shard + "/1"),
	}, nil
}

// TestAShardThatCannotBeReadLosesNoRecordOfTheOthers: a read that fails on
// one shard still returns what the other shards gave (their iterators have
// moved on), and the failed shard is read on the next call.
func TestAShardThatCannotBeReadLosesNoRecordOfTheOthers(t *testing.T) {
	r := &StreamReader{Client: &fakeStream{failB: 1}, ARN: "arn"}
	seen := map[string]int{}
	for range 3 {
		recs, _ := r.Read(t.Context(), 100)
		for _, rec := range recs {
			seen[rec.Change.SequenceNumber]++
		}
	}
	if seen["a1"] != 1 || seen["b1"] != 1 {
		t.Errorf("records read %v, want a1 and b1 once each", seen)
	}
}
