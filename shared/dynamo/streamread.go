package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamAPI is the part of the DynamoDB Streams client StreamReader uses.
type StreamAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// StreamReader reads a table's stream from its oldest record, every shard,
// and hands the records over as Lambda's event source mapping does. It is
// for the local stack and the tests, which read DynamoDB Local's stream
// themselves; in AWS, Lambda reads the stream.
type StreamReader struct {
	Client StreamAPI
	ARN    string

	iterators map[string]*string // open shards' next iterators
	seen      map[string]bool    // shards ever opened
	last      map[string]string  // each shard's last sequence number read
}

// StreamARN returns the latest stream of a table.
func StreamARN(ctx context.Context, db interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}, table string) (string, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return "", fmt.Errorf("describe table %s: %w", table, err)
	}
	if out.Table == nil || out.Table.LatestStreamArn == nil {
		return "", fmt.Errorf("table %s has no stream", table)
	}
	return *out.Table.LatestStreamArn, nil
}

// Read returns the records written since the last Read (at most limit per
// shard and call), oldest first within each shard. With an error, the
// records it returns are still new: use them.
func (r *StreamReader) Read(ctx context.Context, limit int32) ([]events.DynamoDBEventRecord, error) {
	if r.iterators == nil {
		r.iterators, r.seen, r.last = map[string]*string{}, map[string]bool{}, map[string]string{}
	}
	desc, err := r.Client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(r.ARN)})
	if err != nil {
		return nil, fmt.Errorf("describe stream: %w", err)
	}
	for _, sh := range desc.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		if r.seen[id] {
			continue
		}
		it, err := r.open(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("shard iterator of %s: %w", id, err)
		}
		r.seen[id], r.iterators[id] = true, it
	}
	// A shard that cannot be read now is read on the next call; the
	// records of the others are returned all the same, since their
	// iterators have moved past them.
	var out []events.DynamoDBEventRecord
	var firstErr error
	for _, id := range slices.Sorted(maps.Keys(r.iterators)) {
		it := r.iterators[id]
		res, err := r.Client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(limit)})
		var expired *streamtypes.ExpiredIteratorException
		var trimmed *streamtypes.TrimmedDataAccessException
		if errors.As(err, &expired) || errors.As(err, &trimmed) {
			// Open the shard again after the last record read (from its
			// oldest record when none was, or when that one is trimmed
			// away): at least once, and never stuck on a dead iterator.
			delete(r.seen, id)
			delete(r.iterators, id)
			continue
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("read shard %s: %w", id, err)
			}
			continue
		}
		for _, rec := range res.Records {
			lr, err := LambdaRecord(rec, r.ARN)
			if err != nil {
				return out, fmt.Errorf("shard %s: %w", id, err)
			}
			out = append(out, lr)
			r.last[id] = aws.ToString(rec.Dynamodb.SequenceNumber)
		}
		if res.NextShardIterator == nil {
			delete(r.iterators, id) // closed and read to its end
		} else {
			r.iterators[id] = res.NextShardIterator
		}
	}
	return out, firstErr
}

// open returns an iterator of a shard after its last record read, or at its
// oldest record when none was read or that one is trimmed away.
func (r *StreamReader) open(ctx context.Context, shard string) (*string, error) {
	if seq := r.last[shard]; seq != "" {
		it, err := r.Client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: aws.String(r.ARN), ShardId: aws.String(shard),
			ShardIteratorType: streamtypes.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.String(seq),
		})
		var trimmed *streamtypes.TrimmedDataAccessException
		if err == nil || !errors.As(err, &trimmed) {
			if err != nil {
				return nil, err
			}
			return it.ShardIterator, nil
		}
	}
	it, err := r.Client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(r.ARN), ShardId: aws.String(shard), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		return nil, err
	}
	return it.ShardIterator, nil
}
