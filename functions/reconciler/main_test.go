package main

import (
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/stack"
)

// TestReadsExactlyTheVariablesTheTemplateDeclares runs the function's
// start-up with events/env.json's settings and compares the variables it
// reads with those the template declares (sam local invoke sets no
// other) and those events/env.json sets.
func TestReadsExactlyTheVariablesTheTemplateDeclares(t *testing.T) {
	tpl, err := stack.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	local, err := stack.LocalSettings("../../events/env.json")
	if err != nil {
		t.Fatal(err)
	}
	settings := local["ReconcilerFunction"]
	var mu sync.Mutex
	read := map[string]bool{}
	getenv := func(name string) string {
		mu.Lock()
		defer mu.Unlock()
		read[name] = true
		return settings[name]
	}
	if _, _, err := build(t.Context(), getenv); err != nil {
		t.Fatalf("start-up with events/env.json: %v", err)
	}
	for _, problem := range tpl.CheckEnvironment("ReconcilerFunction", slices.Sorted(maps.Keys(read)), settings, []string{"AWS_ENDPOINT_URL_DYNAMODB"}) {
		t.Error(problem)
	}
}
