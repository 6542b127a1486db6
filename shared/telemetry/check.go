package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrNotRecord means a log line carries no EMF directive ("_aws").
var ErrNotRecord = errors.New("telemetry: not an EMF record")

// CheckRecord reports why line is not an EMF record CloudWatch turns into
// metrics: not one JSON object, a key twice in an object (which value would
// count?), no "_aws" (ErrNotRecord), a malformed directive, a declared
// metric whose value is not a number, or a dimension whose value is not a
// non-empty string. Tests run it over every line a function writes.
func CheckRecord(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	v, err := decodeUnique(dec)
	if err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value on the line")
	}
	root, ok := v.(map[string]any)
	if !ok {
		return errors.New("not a JSON object")
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		if _, present := root["_aws"]; present {
			return errors.New("_aws is not an object")
		}
		return ErrNotRecord
	}
	if ts, ok := aws["Timestamp"].(json.Number); !ok {
		return errors.New("_aws.Timestamp is not a number")
	} else if _, err := ts.Int64(); err != nil {
		return fmt.Errorf("_aws.Timestamp %s is not milliseconds", ts)
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		return errors.New("_aws.CloudWatchMetrics is not a non-empty list")
	}
	for _, d := range directives {
		if err := checkDirective(root, d); err != nil {
			return err
		}
	}
	return nil
}

func checkDirective(root map[string]any, d any) error {
	dir, ok := d.(map[string]any)
	if !ok {
		return errors.New("a directive is not an object")
	}
	if ns, ok := dir["Namespace"].(string); !ok || ns == "" {
		return errors.New("a directive has no Namespace")
	}
	sets, ok := dir["Dimensions"].([]any)
	if !ok {
		return errors.New("a directive's Dimensions is not a list")
	}
	dims := map[string]bool{}
	for _, s := range sets {
		set, ok := s.([]any)
		if !ok || len(set) > 30 {
			return fmt.Errorf("dimension set %v is not a list of at most 30 names", s)
		}
		for _, n := range set {
			name, ok := n.(string)
			if !ok {
				return fmt.Errorf("dimension name %v is not a string", n)
			}
			if v, ok := root[name].(string); !ok || v == "" || len(v) > 1024 {
				return fmt.Errorf("dimension %s is %v, not a string of 1 to 1024 characters", name, root[name])
			}
			dims[name] = true
		}
	}
	metrics, ok := dir["Metrics"].([]any)
	if !ok || len(metrics) == 0 || len(metrics) > 100 {
		return errors.New("a directive's Metrics is not a list of 1 to 100 metrics")
	}
	for _, m := range metrics {
		def, ok := m.(map[string]any)
		if !ok {
			return fmt.Errorf("metric %v is not an object", m)
		}
		name, ok := def["Name"].(string)
		if !ok || name == "" {
			return fmt.Errorf("metric %v has no Name", m)
		}
		if dims[name] {
			return fmt.Errorf("%s is both a dimension and a metric", name)
		}
		if _, ok := root[name].(json.Number); !ok {
			return fmt.Errorf("metric %s is %v, not a number", name, root[name])
		}
	}
	return nil
}

// decodeUnique decodes one JSON value, refusing an object that has a key
// twice (encoding/json would silently keep the last).
func decodeUnique(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch delim {
	case '{':
		obj := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("not JSON: %w", err)
			}
			key := kt.(string)
			if _, dup := obj[key]; dup {
				return nil, fmt.Errorf("key %q appears twice", key)
			}
			if obj[key], err = decodeUnique(dec); err != nil {
				return nil, err
			}
		}
		return obj, closing(dec)
	case '[':
		list := []any{}
		for dec.More() {
			v, err := decodeUnique(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, closing(dec)
	}
	return nil, fmt.Errorf("unexpected %v", delim)
}

// closing reads the delimiter that ends an object or a list.
func closing(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return nil
}

// Records checks every line of logs (CheckRecord) and returns the EMF
// records among them, decoded, and an error for each invalid one; lines
// that are not records are skipped.
func Records(logs []byte) ([]map[string]any, []error) {
	var out []map[string]any
	var errs []error
	for _, line := range bytes.Split(bytes.TrimSpace(logs), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		err := CheckRecord(line)
		switch {
		case errors.Is(err, ErrNotRecord):
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("invalid EMF record: %w\n%s", err, line))
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			errs = append(errs, fmt.Errorf("undecodable EMF record: %w", err))
			continue
		}
		out = append(out, m)
	}
	return out, errs
}
