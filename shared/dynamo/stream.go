package dynamo

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// The ledger's stream. Entries are announced from their account's balance
// item, not from the entry items: the balance item is written in the same
// transaction as its entries, and its new image holds both the balances
// after the write and the entries the write applied ("entries", replaced
// by every write). A stream record of a balance item is therefore
// everything an announcement needs, exactly, with no read: replaying it
// announces the same thing. The template's FilterCriteria select balance
// items (type "balance") for that reason.

// StreamItemType is the "type" of the items whose stream records carry the
// ledger's entries.
const StreamItemType = typeBalance

// bookedItem is one entry as its balance item keeps it.
type bookedItem struct {
	ID        string `dynamodbav:"id"`
	Subject   string `dynamodbav:"subject"`
	Kind      string `dynamodbav:"kind"`
	Pending   int64  `dynamodbav:"pending,omitempty"`
	Available int64  `dynamodbav:"available,omitempty"`
	Reversed  int64  `dynamodbav:"reversed,omitempty"`
	Fulfilled int64  `dynamodbav:"fulfilled,omitempty"`
	Redeemed  int64  `dynamodbav:"redeemed,omitempty"`
	Held      int64  `dynamodbav:"held,omitempty"`
	At        string `dynamodbav:"at"`
}

// balanceUpdate is the update of an account's balance item by the entries
// of one write (all of them of that account, in the order written): their
// summed deltas, and the entries themselves for the stream. Every write
// that moves a balance builds its balance update here, so that no entry
// goes unannounced. The item is kept in the recipient index too (its index
// keys never change once written, so a balance update writes the keys-only
// index only the first time).
func balanceUpdate(a reward.Account, entries []reward.Entry) (expression.UpdateBuilder, error) {
	var d reward.Deltas
	booked := make([]bookedItem, len(entries))
	for i, e := range entries {
		if e.Account != a {
			return expression.UpdateBuilder{}, fmt.Errorf("entry %s of account %s in the balance update of %s: %w", e.ID, e.Account, a, reward.ErrInvalid)
		}
		d = d.Add(e.Deltas)
		booked[i] = bookedItem{
			ID: e.ID, Subject: e.Subject, Kind: string(e.Kind),
			Pending: e.Deltas.Pending, Available: e.Deltas.Available, Reversed: e.Deltas.Reversed, Fulfilled: e.Deltas.Fulfilled,
			Redeemed: e.Deltas.Redeemed, Held: e.Deltas.Held,
			At: e.At.UTC().Format(time.RFC3339Nano),
		}
	}
	list, err := attributevalue.MarshalList(booked)
	if err != nil {
		return expression.UpdateBuilder{}, fmt.Errorf("marshal the entries of %s: %w", a, err)
	}
	upd := setAccount(typeBalance, a).
		Set(expression.Name("recipient_of"), expression.Value(string(a.Recipient))).
		Set(expression.Name("recipient_sort"), expression.Value(balanceSort(a))).
		Add(expression.Name("pending"), expression.Value(d.Pending)).
		Add(expression.Name("available"), expression.Value(d.Available)).
		Add(expression.Name("reversed"), expression.Value(d.Reversed)).
		Add(expression.Name("fulfilled"), expression.Value(d.Fulfilled)).
		Set(expression.Name("entries"), expression.Value(&types.AttributeValueMemberL{Value: list}))
	// Balances of redemptions only where a write moves them: the items of
	// accounts that never had one stay as they were.
	if d.Redeemed != 0 {
		upd = upd.Add(expression.Name("redeemed"), expression.Value(d.Redeemed))
	}
	if d.Held != 0 {
		upd = upd.Add(expression.Name("held"), expression.Value(d.Held))
	}
	return upd, nil
}

// streamBalance is a balance item's new image.
type streamBalance struct {
	Type string `dynamodbav:"type"`
	balanceItem
	Entries []bookedItem `dynamodbav:"entries"`
}

// ErrNotLedger means a stream record is not of an item that carries ledger
// entries (the FilterCriteria let it through, or there are none).
var ErrNotLedger = errors.New("dynamo: not a stream record of ledger entries")

// Booked reads the entries a write applied, with the balances after each,
// from the new image of a balance item's stream record. A record of another
// item is ErrNotLedger; an image that cannot be read is another error.
func Booked(image map[string]events.DynamoDBAttributeValue) ([]reward.Booked, error) {
	av, err := fromStream(image)
	if err != nil {
		return nil, fmt.Errorf("read stream image: %w", err)
	}
	var item streamBalance
	if err := attributevalue.UnmarshalMap(av, &item); err != nil {
		return nil, fmt.Errorf("decode balance image: %w", err)
	}
	if item.Type != typeBalance || len(item.Entries) == 0 {
		return nil, ErrNotLedger
	}
	a := item.account()
	entries := make([]reward.Entry, len(item.Entries))
	for i, b := range item.Entries {
		at, err := time.Parse(time.RFC3339Nano, b.At)
		if err != nil {
			return nil, fmt.Errorf("entry %s: at %q: %w", b.ID, b.At, err)
		}
		entries[i] = reward.Entry{
			ID: b.ID, Account: a, Subject: b.Subject, Kind: reward.EntryKind(b.Kind), At: at,
			Deltas: reward.Deltas{Pending: b.Pending, Available: b.Available, Reversed: b.Reversed, Fulfilled: b.Fulfilled, Redeemed: b.Redeemed, Held: b.Held},
		}
	}
	return reward.BookAll(entries, item.deltas()), nil
}

// fromStream converts a stream image, as Lambda hands it over, to the
// SDK's attribute values.
func fromStream(image map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(image))
	for k, v := range image {
		av, err := fromStreamValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func fromStreamValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		list := v.List()
		out := make([]types.AttributeValue, len(list))
		for i, e := range list {
			av, err := fromStreamValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := fromStream(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("attribute of data type %s", strconv.Itoa(int(v.DataType())))
}

// LambdaRecord is a record read from the stream's API as Lambda's event
// source mapping hands it to a function: for the local stack and the tests,
// which read DynamoDB Local's stream themselves.
func LambdaRecord(r streamtypes.Record, sourceARN string) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceArn: sourceARN,
	}
	if d := r.Dynamodb; d != nil {
		var err error
		if out.Change.Keys, err = toStream(d.Keys); err != nil {
			return out, err
		}
		if out.Change.NewImage, err = toStream(d.NewImage); err != nil {
			return out, err
		}
		if out.Change.OldImage, err = toStream(d.OldImage); err != nil {
			return out, err
		}
		out.Change.SequenceNumber = aws.ToString(d.SequenceNumber)
		out.Change.SizeBytes = aws.ToInt64(d.SizeBytes)
		out.Change.StreamViewType = string(d.StreamViewType)
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return out, nil
}

func toStream(m map[string]streamtypes.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		av, err := toStreamValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func toStreamValue(v streamtypes.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *streamtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value), nil
	case *streamtypes.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			av, err := toStreamValue(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, fmt.Errorf("[%d]: %w", i, err)
			}
			list[i] = av
		}
		return events.NewListAttribute(list), nil
	case *streamtypes.AttributeValueMemberM:
		m, err := toStream(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("attribute value of type %T", v)
}
