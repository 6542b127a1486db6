package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tableProps is the part of AWS::DynamoDB::Table a local table needs.
type tableProps struct {
	AttributeDefinitions   []types.AttributeDefinition
	KeySchema              []types.KeySchemaElement
	GlobalSecondaryIndexes []struct {
		IndexName  string
		KeySchema  []types.KeySchemaElement
		Projection struct {
			ProjectionType   types.ProjectionType
			NonKeyAttributes []string
		}
	}
	TimeToLiveSpecification *struct {
		AttributeName string
		Enabled       bool
	}
	StreamSpecification *struct {
		StreamViewType types.StreamViewType
	}
}

// Table returns the CreateTable input of table logicalID, named name, and
// its TTL attribute ("" when none). Billing is on demand, as in the template.
func (t *Template) Table(logicalID, name string) (*dynamodb.CreateTableInput, string, error) {
	if r, ok := t.Resources[logicalID]; !ok || r.Type != "AWS::DynamoDB::Table" {
		return nil, "", fmt.Errorf("table %s: %w", logicalID, ErrNotFound)
	}
	props, err := t.Properties(logicalID, nil, nil)
	if err != nil {
		return nil, "", err
	}
	// The property names match the SDK's field names: round-trip through JSON.
	raw, err := json.Marshal(props)
	if err != nil {
		return nil, "", fmt.Errorf("table %s: %w", logicalID, err)
	}
	var p tableProps
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, "", fmt.Errorf("table %s: %w", logicalID, err)
	}
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: p.AttributeDefinitions,
		KeySchema:            p.KeySchema,
		BillingMode:          types.BillingModePayPerRequest,
	}
	for _, g := range p.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName),
			KeySchema: g.KeySchema,
			Projection: &types.Projection{
				ProjectionType:   g.Projection.ProjectionType,
				NonKeyAttributes: g.Projection.NonKeyAttributes,
			},
		})
	}
	if p.StreamSpecification != nil {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: p.StreamSpecification.StreamViewType}
	}
	ttl := ""
	if p.TimeToLiveSpecification != nil && p.TimeToLiveSpecification.Enabled {
		ttl = p.TimeToLiveSpecification.AttributeName
	}
	return in, ttl, nil
}

// CreateTable creates the table, waits until it is active and turns on its
// TTL attribute.
func CreateTable(ctx context.Context, client *dynamodb.Client, in *dynamodb.CreateTableInput, ttl string) error {
	if _, err := client.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", aws.ToString(in.TableName), err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", aws.ToString(in.TableName), err)
	}
	if ttl == "" {
		return nil
	}
	_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               in.TableName,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(ttl), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("turn on TTL of %s: %w", aws.ToString(in.TableName), err)
	}
	return nil
}
