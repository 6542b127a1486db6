package stack

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Variables returns the environment variables the template gives function
// logicalID (Globals included), as written: intrinsics are not resolved.
func (t *Template) Variables(logicalID string) (map[string]any, error) {
	r, ok := t.Resources[logicalID]
	if !ok || r.Type != "AWS::Serverless::Function" {
		return nil, fmt.Errorf("function %s: %w", logicalID, ErrNotFound)
	}
	out := map[string]any{}
	for _, props := range []any{t.Globals["Function"], r.Properties} {
		p, _ := props.(map[string]any)
		env, _ := p["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		maps.Copy(out, vars)
	}
	return out, nil
}

// LocalSettings reads the file `sam local invoke --env-vars` takes: each
// function's variables by logical id.
func LocalSettings(path string) (map[string]map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("local settings: %w", err)
	}
	var out map[string]map[string]string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("local settings %s: %w", path, err)
	}
	return out, nil
}

// CheckStartup runs function logicalID's start-up (start, which reads its
// configuration only through getenv) with the settings the file `sam local
// invoke --env-vars` takes (root/events/env.json) and compares the variables
// it reads with those root/template.yaml declares and those the file sets:
// see CheckEnvironment. It returns one line per difference (a start-up
// error is one).
func CheckStartup(root, logicalID string, start func(getenv func(string) string) error) []string {
	t, err := Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return []string{err.Error()}
	}
	local, err := LocalSettings(filepath.Join(root, "events", "env.json"))
	if err != nil {
		return []string{err.Error()}
	}
	settings := local[logicalID]
	var mu sync.Mutex
	read := map[string]bool{}
	getenv := func(name string) string {
		mu.Lock()
		defer mu.Unlock()
		read[name] = true
		return settings[name]
	}
	if err := start(getenv); err != nil {
		return []string{fmt.Sprintf("%s: start-up with events/env.json: %v", logicalID, err)}
	}
	mu.Lock()
	defer mu.Unlock()
	return t.CheckEnvironment(logicalID, slices.Sorted(maps.Keys(read)), settings)
}

// sdkVariable reports whether name is one the AWS SDK reads itself: an
// endpoint (AWS_ENDPOINT_URL_<SERVICE>), set only against an emulator.
func sdkVariable(name string) bool { return strings.HasPrefix(name, "AWS_ENDPOINT_URL_") }

// CheckEnvironment compares three lists of function logicalID's variables:
// those its code reads (read), those the template declares and those the
// local settings set (local). sam local invoke applies only the variables
// the template declares, so all three must be the same, except the SDK's
// endpoint variables, which the code never reads itself and the template
// declares empty (in AWS the SDK finds the endpoints). It returns one line
// per difference.
func (t *Template) CheckEnvironment(logicalID string, read []string, local map[string]string) []string {
	declared, err := t.Variables(logicalID)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	isRead := map[string]bool{}
	for _, name := range read {
		isRead[name] = true
		if _, ok := declared[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s reads %s, which the template does not declare (sam local invoke would not set it)", logicalID, name))
		}
		if _, ok := local[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s reads %s, which events/env.json does not set", logicalID, name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(declared)) {
		switch v := declared[name]; {
		case sdkVariable(name) && v != "":
			problems = append(problems, fmt.Sprintf("%s: the template gives %s the value %v; it must be empty in AWS", logicalID, name, v))
		case !isRead[name] && !sdkVariable(name):
			problems = append(problems, fmt.Sprintf("%s: the template declares %s, which the code never reads", logicalID, name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(local)) {
		if _, ok := declared[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s: events/env.json sets %s, which the template does not declare (sam local invoke ignores it)", logicalID, name))
		}
	}
	return problems
}

// ScheduleExpression returns the expression of function logicalID's
// schedule event (Schedule or ScheduleV2), resolved with the parameter
// overrides.
func (t *Template) ScheduleExpression(logicalID string, overrides map[string]string) (string, error) {
	r, ok := t.Resources[logicalID]
	if !ok {
		return "", fmt.Errorf("function %s: %w", logicalID, ErrNotFound)
	}
	events, _ := r.Properties["Events"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(events)) {
		e, _ := events[name].(map[string]any)
		props, _ := e["Properties"].(map[string]any)
		var expr any
		switch e["Type"] {
		case "Schedule":
			expr = props["Schedule"]
		case "ScheduleV2":
			expr = props["ScheduleExpression"]
		default:
			continue
		}
		v, err := t.Resolve(expr, overrides, nil)
		if err != nil {
			return "", fmt.Errorf("schedule of %s: %w", logicalID, err)
		}
		return fmt.Sprint(v), nil
	}
	return "", fmt.Errorf("schedule of %s: %w", logicalID, ErrNotFound)
}
