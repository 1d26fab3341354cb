package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
)

const (
	sarifSchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	informationURI = "https://github.com/mailcheck-cli/mailcheck"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	ShortDescription     sarifMessage   `json:"shortDescription"`
	FullDescription      *sarifMessage  `json:"fullDescription,omitempty"`
	Help                 *sarifMessage  `json:"help,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	StartTimeUTC        string `json:"startTimeUtc,omitempty"`
	EndTimeUTC          string `json:"endTimeUtc,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifMessage       `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	BaselineState       string             `json:"baselineState,omitempty"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

// sarifLevel maps a severity to a SARIF level. Pass findings are left out:
// SARIF consumers show every result as an alert. Error (inconclusive) is a
// warning with the property inconclusive=true, so that a check that could not
// run is seen in code scanning without being reported as a defect.
func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.Fail:
		return "error"
	case finding.Warn, finding.Error:
		return "warning"
	default:
		return "note"
	}
}

// sarifBaseline maps the CI gate's baseline states to SARIF's.
var sarifBaseline = map[string]string{"new": "new", "unchanged": "unchanged", "fixed": "absent"}

// renderSARIF writes all reports as one SARIF 2.1.0 run, one rule per
// finding ID used, results located at the zone file line where there is one
// and otherwise at the subject (a DNS name or host:port) as a logical location.
func renderSARIF(w io.Writer, reports []finding.Report, opts Options) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: opts.ToolName, Version: opts.ToolVersion,
			InformationURI: informationURI, Rules: []sarifRule{}}},
		Results: []sarifResult{},
	}
	ruleIndex := map[string]int{}
	var start time.Time
	interrupted := false
	for _, r := range reports {
		interrupted = interrupted || r.Interrupted
		if !r.Started.IsZero() && (start.IsZero() || r.Started.Before(start)) {
			start = r.Started
		}
		for _, f := range r.Findings {
			if f.Severity == finding.Pass {
				continue
			}
			i, ok := ruleIndex[f.ID]
			if !ok {
				i = len(run.Tool.Driver.Rules)
				ruleIndex[f.ID] = i
				run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(f, opts.Lang))
			}
			run.Results = append(run.Results, sarifResultFor(r.Target, f, i, opts.Lang))
		}
	}
	// An interrupted run did not complete: SARIF consumers must not take
	// the missing results for a clean bill of health.
	inv := sarifInvocation{ExecutionSuccessful: !interrupted, EndTimeUTC: opts.Now().UTC().Format(time.RFC3339)}
	if !start.IsZero() {
		inv.StartTimeUTC = start.UTC().Format(time.RFC3339)
	}
	run.Invocations = []sarifInvocation{inv}

	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{Schema: sarifSchemaURI, Version: "2.1.0", Runs: []sarifRun{run}})
}

func sarifRuleFor(f finding.Finding, l finding.Lang) sarifRule {
	rule := sarifRule{ID: f.ID, ShortDescription: sarifMessage{Text: f.Title},
		DefaultConfiguration: sarifConfig{Level: sarifLevel(f.Severity)},
		Properties:           map[string]any{"tags": []string{"mail", f.Area()}}}
	e, ok := finding.Lookup(f.ID)
	if !ok {
		return rule
	}
	e = e.In(l)
	rule.ShortDescription.Text = e.Title
	rule.DefaultConfiguration.Level = sarifLevel(e.Severity)
	if e.Why != "" {
		rule.FullDescription = &sarifMessage{Text: e.Why}
	}
	if e.Fix != "" {
		help := &sarifMessage{Text: e.Fix, Markdown: e.Fix}
		if e.Ref != "" {
			help.Text += " (" + e.Ref + ")"
			help.Markdown += finding.T("\n\nReference: %s", e.Ref).In(l)
		}
		rule.Help = help
	}
	if e.Ref != "" {
		rule.Properties["reference"] = e.Ref
	}
	return rule
}

func sarifResultFor(target string, f finding.Finding, ruleIndex int, l finding.Lang) sarifResult {
	text := oneLine(f.Title)
	if fix := fixOf(f); fix != "" {
		text += finding.T(". Fix: %s", fix).In(l)
	}
	subject := f.Subject
	if subject == "" {
		subject = target
	}
	loc := sarifLocation{LogicalLocations: []sarifLogicalLocation{{
		Name: subject, FullyQualifiedName: target + "/" + subject, Kind: "resource"}}}
	if f.Location != nil && f.Location.File != "" {
		loc.PhysicalLocation = &sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: artifactURI(f.Location.File)}}
		if f.Location.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Location.Line}
		}
	}
	props := map[string]any{"severity": f.Severity.String(), "target": target, "subject": f.Subject}
	if len(f.Evidence) > 0 {
		props["evidence"] = f.Evidence
	}
	if f.Severity == finding.Error {
		props["inconclusive"] = true
	}
	res := sarifResult{RuleID: f.ID, RuleIndex: ruleIndex, Level: sarifLevel(f.Severity),
		Message: sarifMessage{Text: text}, Locations: []sarifLocation{loc},
		PartialFingerprints: map[string]string{"mailcheckFinding/v1": fingerprint(target, f)},
		BaselineState:       sarifBaseline[f.Baseline], Properties: props}
	if f.Allowed != "" {
		// A policy allowance is a suppression kept outside the zone files.
		res.Suppressions = []sarifSuppression{{Kind: "external", Justification: f.Allowed}}
	}
	return res
}

// fingerprint identifies a finding across runs, so that code scanning keeps
// one alert open instead of opening a new one each time; titles and line
// numbers change, the target, ID and subject do not.
func fingerprint(target string, f finding.Finding) string {
	sum := sha256.Sum256([]byte(target + "\x00" + f.ID + "\x00" + f.Subject))
	return hex.EncodeToString(sum[:16])
}

// artifactURI turns a zone file path into the relative, forward-slash URI
// that code scanning resolves against the repository root; an absolute path
// becomes a file: URI.
func artifactURI(path string) string {
	slash := filepath.ToSlash(filepath.Clean(path))
	if filepath.IsAbs(path) {
		if !strings.HasPrefix(slash, "/") {
			slash = "/" + slash // a Windows drive: file:///C:/zones/x.zone
		}
		return (&url.URL{Scheme: "file", Path: slash}).String()
	}
	// String, unlike EscapedPath, writes "./a:b.zone" so a colon in the
	// first segment is not read as a URI scheme.
	return (&url.URL{Path: slash}).String()
}
