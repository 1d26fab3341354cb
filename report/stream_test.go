package report

import (
	"bytes"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// A run written report by report, as each target finishes, reads exactly
// as the same reports rendered at once: streaming changes when the bytes
// come, not what they say.
func TestStreamWritesWhatRenderWrites(t *testing.T) {
	three := append(sampleReports(), sampleReports()[0])
	three[2].Target = "example.org"
	cases := []struct {
		name    string
		reports []finding.Report
		opts    Options
	}{
		{"ndjson", three, Options{Format: "ndjson"}},
		{"json one", three[:1], Options{Format: "json"}},
		{"json many", three, Options{Format: "json"}},
		{"text one", three[:1], Options{Format: "text", Verbose: true}},
		{"text many, colour, GitHub", three, Options{Format: "text", Color: true, GitHubActions: true}},
		{"text in French", three, Options{Format: "text", Lang: finding.French}},
		{"sarif (kept to the end)", three, Options{Format: "sarif", Now: clock, ToolVersion: "test"}},
		{"junit (kept to the end)", three, Options{Format: "junit", Now: clock}},
		{"markdown (kept to the end)", three, Options{Format: "markdown"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want bytes.Buffer
			if err := Render(&want, tc.reports, tc.opts); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			s, err := NewStream(&got, len(tc.reports), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range tc.reports {
				e, err := s.Encode(r)
				if err != nil {
					t.Fatal(err)
				}
				before := got.Len()
				if err := s.Write(e); err != nil {
					t.Fatal(err)
				}
				if Streamed(tc.opts.Format) && got.Len() == before {
					t.Errorf("report %d was not written when it was given", i)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("streamed output differs from Render's:\n--- stream\n%s\n--- render\n%s", got.String(), want.String())
			}
		})
	}
}

func TestStreamUnknownFormat(t *testing.T) {
	if _, err := NewStream(&bytes.Buffer{}, 1, Options{Format: "xml"}); err == nil {
		t.Fatal("an unknown format must be refused")
	}
}
