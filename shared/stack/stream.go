package stack

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// StreamSource returns the batch size, the batching window and the filter
// pattern (the first of its FilterCriteria) of function logicalID's
// DynamoDB event source event.
func (t *Template) StreamSource(logicalID, event string) (size int, window time.Duration, pattern map[string]any, err error) {
	r, ok := t.Resources[logicalID]
	if !ok {
		return 0, 0, nil, fmt.Errorf("function %s: %w", logicalID, ErrNotFound)
	}
	evs, _ := r.Properties["Events"].(map[string]any)
	ev, _ := evs[event].(map[string]any)
	props, _ := ev["Properties"].(map[string]any)
	if ev["Type"] != "DynamoDB" || props == nil {
		return 0, 0, nil, fmt.Errorf("function %s: event %s is not a DynamoDB event source: %w", logicalID, event, ErrNotFound)
	}
	if size, err = strconv.Atoi(fmt.Sprint(props["BatchSize"])); err != nil {
		return 0, 0, nil, fmt.Errorf("function %s: event %s: BatchSize: %w", logicalID, event, err)
	}
	if w, ok := props["MaximumBatchingWindowInSeconds"]; ok {
		secs, err := strconv.Atoi(fmt.Sprint(w))
		if err != nil {
			return 0, 0, nil, fmt.Errorf("function %s: event %s: MaximumBatchingWindowInSeconds: %w", logicalID, event, err)
		}
		window = time.Duration(secs) * time.Second
	}
	criteria, _ := props["FilterCriteria"].(map[string]any)
	filters, _ := criteria["Filters"].([]any)
	if len(filters) == 0 {
		return size, window, map[string]any{}, nil
	}
	f, _ := filters[0].(map[string]any)
	raw, _ := f["Pattern"].(string)
	if err := json.Unmarshal([]byte(raw), &pattern); err != nil {
		return 0, 0, nil, fmt.Errorf("function %s: event %s: filter pattern: %w", logicalID, event, err)
	}
	return size, window, pattern, nil
}
