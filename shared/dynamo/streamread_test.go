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

// trimmingStream has one shard whose records come one per read; the
// iterator after the first record is trimmed away once, as DynamoDB
// Local's are after a while.
type trimmingStream struct {
	trimmed  bool
	reopened []string
}

func (f *trimmingStream) DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: &streamtypes.StreamDescription{Shards: []streamtypes.Shard{{ShardId: aws.String("a")}}}}, nil
}

func (f *trimmingStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.reopened = append(f.reopened, string(in.ShardIteratorType)+" "+aws.ToString(in.SequenceNumber))
	if in.ShardIteratorType == streamtypes.ShardIteratorTypeAfterSequenceNumber {
		return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String("after-" + aws.ToString(in.SequenceNumber))}, nil
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String("start")}, nil
}

func (f *trimmingStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	record := func(seq, next string) (*dynamodbstreams.GetRecordsOutput, error) {
		return &dynamodbstreams.GetRecordsOutput{
			Records:           []streamtypes.Record{{Dynamodb: &streamtypes.StreamRecord{SequenceNumber: aws.String(seq)}}},
			NextShardIterator: aws.String(next),
		}, nil
	}
	switch aws.ToString(in.ShardIterator) {
	case "start":
		return record("1", "stale")
	case "stale":
		if !f.trimmed {
			f.trimmed = true
			return nil, &streamtypes.TrimmedDataAccessException{Message: aws.String("past the oldest record")}
		}
		return &dynamodbstreams.GetRecordsOutput{NextShardIterator: aws.String("stale")}, nil
	case "after-1":
		return record("2", "end")
	}
	return &dynamodbstreams.GetRecordsOutput{NextShardIterator: in.ShardIterator}, nil
}

// TestATrimmedIteratorIsReopenedAfterTheLastRecordRead: an iterator the
// stream refuses as trimmed is replaced by one after the last record read,
// so the reader neither sticks on it nor hands the first record over again.
func TestATrimmedIteratorIsReopenedAfterTheLastRecordRead(t *testing.T) {
	f := &trimmingStream{}
	r := &StreamReader{Client: f, ARN: "arn"}
	seen := map[string]int{}
	for range 4 {
		recs, err := r.Read(t.Context(), 100)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		for _, rec := range recs {
			seen[rec.Change.SequenceNumber]++
		}
	}
	if seen["1"] != 1 || seen["2"] != 1 {
		t.Errorf("records read %v, want 1 and 2 once each (iterators opened: %v)", seen, f.reopened)
	}
}
