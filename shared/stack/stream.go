package stack

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// StreamSource is a function's DynamoDB event source as the template
// declares it.
type StreamSource struct {
	BatchSize int
	// Window is MaximumBatchingWindowInSeconds.
	Window time.Duration
	// Pattern is the first filter of its FilterCriteria (empty: none).
	Pattern map[string]any
	// MaxRetries is MaximumRetryAttempts: how many times a failing batch
	// is retried before it is described to the failure destination and
	// skipped (-1, Lambda's default: until the records expire).
	MaxRetries int
	// MaxRecordAge is MaximumRecordAgeInSeconds (0: no limit).
	MaxRecordAge time.Duration
}

// StreamSource returns function logicalID's DynamoDB event source event.
func (t *Template) StreamSource(logicalID, event string) (StreamSource, error) {
	src := StreamSource{MaxRetries: -1, Pattern: map[string]any{}}
	r, ok := t.Resources[logicalID]
	if !ok {
		return src, fmt.Errorf("function %s: %w", logicalID, ErrNotFound)
	}
	evs, _ := r.Properties["Events"].(map[string]any)
	ev, _ := evs[event].(map[string]any)
	props, _ := ev["Properties"].(map[string]any)
	if ev["Type"] != "DynamoDB" || props == nil {
		return src, fmt.Errorf("function %s: event %s is not a DynamoDB event source: %w", logicalID, event, ErrNotFound)
	}
	number := func(name string, into *int) error {
		v, ok := props[name]
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil {
			return fmt.Errorf("function %s: event %s: %s: %w", logicalID, event, name, err)
		}
		*into = n
		return nil
	}
	var window, age int
	for name, into := range map[string]*int{"BatchSize": &src.BatchSize, "MaximumBatchingWindowInSeconds": &window, "MaximumRetryAttempts": &src.MaxRetries, "MaximumRecordAgeInSeconds": &age} {
		if err := number(name, into); err != nil {
			return src, err
		}
	}
	if src.BatchSize == 0 {
		return src, fmt.Errorf("function %s: event %s: no BatchSize", logicalID, event)
	}
	src.Window, src.MaxRecordAge = time.Duration(window)*time.Second, time.Duration(age)*time.Second
	if age == -1 {
		src.MaxRecordAge = 0
	}
	criteria, _ := props["FilterCriteria"].(map[string]any)
	filters, _ := criteria["Filters"].([]any)
	if len(filters) == 0 {
		return src, nil
	}
	f, _ := filters[0].(map[string]any)
	raw, _ := f["Pattern"].(string)
	if err := json.Unmarshal([]byte(raw), &src.Pattern); err != nil {
		return src, fmt.Errorf("function %s: event %s: filter pattern: %w", logicalID, event, err)
	}
	return src, nil
}
