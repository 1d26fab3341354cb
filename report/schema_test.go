package report

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// reportSchemaFile is the JSON Schema docs/ publishes for --format json.
var reportSchemaFile = filepath.Join("..", "docs", "schema", "report-v1.schema.json")

func reportSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(reportSchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noNetwork{})
	c.AssertFormat()
	const url = "file:///report-v1.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compiling %s: %v", reportSchemaFile, err)
	}
	return sch
}

// TestJSONMatchesTheDocumentedSchema: what --format json and ndjson write
// is what docs/schema/report-v1.schema.json says, field for field (the
// schema admits no field it does not describe, so a new field fails here
// until it is documented).
func TestJSONMatchesTheDocumentedSchema(t *testing.T) {
	sch := reportSchema(t)
	interrupted := sampleReports()[0]
	interrupted.MarkInterrupted()
	login := loginReport()
	validate := func(name, text string) {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s does not match the documented schema: %v", name, err)
		}
	}
	for name, reports := range map[string][]finding.Report{
		"one": sampleReports()[:1], "many": sampleReports(), "interrupted": {interrupted}, "login": {login},
	} {
		validate("json "+name, render(t, reports, Options{Format: "json"}))
		for i, line := range strings.Split(strings.TrimSpace(render(t, reports, Options{Format: "ndjson"})), "\n") {
			validate("ndjson "+name+" line "+strconv.Itoa(i+1), line)
		}
	}
	// The schema is not a rubber stamp: a report without its probes key,
	// or with an unknown severity, is rejected.
	for name, bad := range map[string]string{
		"no probes":        `{"schema":"mailcheck/v1","target":"x","started":"2026-11-21T10:00:00Z","duration_ms":1,"findings":[]}`,
		"unknown severity": `{"schema":"mailcheck/v1","target":"x","started":"2026-11-21T10:00:00Z","duration_ms":1,"probes":[],"findings":[{"id":"spf.ok","severity":"fatal","subject":"x","title":"x"}]}`,
		"unknown field":    `{"schema":"mailcheck/v1","target":"x","started":"2026-11-21T10:00:00Z","duration_ms":1,"probes":[],"findings":[],"score":3}`,
	} {
		doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if sch.Validate(doc) == nil {
			t.Errorf("the schema accepts a report with %s", name)
		}
	}
}
