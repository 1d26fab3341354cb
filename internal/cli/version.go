package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Build facts. Release builds set them with -ldflags (see .goreleaser.yaml):
//
//	-X github.com/mailcheck-cli/mailcheck/internal/cli.Version=1.2.3
//	-X github.com/mailcheck-cli/mailcheck/internal/cli.Commit=<full hash>
//	-X github.com/mailcheck-cli/mailcheck/internal/cli.Date=<RFC 3339>
//
// Other builds (go install, go build in a clone) take them from the build
// information the Go toolchain embeds: the module version and the VCS
// revision and time.
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Build describes the running binary.
type Build struct {
	Version  string
	Commit   string // full hash; empty when unknown
	Date     string // RFC 3339: the commit's time, or the release build's
	Modified bool   // built from a work tree with uncommitted changes
	Go       string
	Platform string // GOOS/GOARCH
}

// CurrentBuild merges the -ldflags values with the embedded build
// information; a value set by -ldflags wins.
func CurrentBuild() Build {
	return buildFrom(Version, Commit, Date, readBuildInfo())
}

func readBuildInfo() *debug.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return bi
}

func buildFrom(version, commit, date string, bi *debug.BuildInfo) Build {
	b := Build{Version: version, Commit: commit, Date: date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return b
	}
	if b.Version == "dev" || b.Version == "" {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Commit == "" {
				b.Commit = s.Value
			}
		case "vcs.time":
			if b.Date == "" {
				b.Date = s.Value
			}
		case "vcs.modified":
			// Only meaningful for the revision the toolchain recorded: a
			// release build names its commit itself.
			b.Modified = s.Value == "true" && commit == ""
		}
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	return b
}

// ShortCommit is the commit hash cut to 12 characters, as git shows it.
func (b Build) ShortCommit() string {
	if len(b.Commit) > 12 {
		return b.Commit[:12]
	}
	return b.Commit
}

// Line is the one format of `mailcheck version` and `mailcheck --version`:
//
//	mailcheck 1.2.3 (commit 0123456789ab, 2026-11-29T16:09:00Z, go1.26.8, linux/amd64)
func (b Build) Line(lang finding.Lang) string {
	commit := b.ShortCommit()
	if commit == "" {
		commit = finding.T("unknown").In(lang)
	} else if b.Modified {
		commit += "+dirty"
	}
	date := b.Date
	if t, err := time.Parse(time.RFC3339, date); err == nil {
		date = t.UTC().Format(time.RFC3339)
	}
	if date == "" {
		date = finding.T("date unknown").In(lang)
	}
	return fmt.Sprintf("mailcheck %s (%s, %s, %s, %s)", strings.TrimSpace(b.Version),
		finding.T("commit %s", commit).In(lang), date, b.Go, b.Platform)
}

// NewCmdVersion builds `mailcheck version`.
func NewCmdVersion(io *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: finding.T("Print mailcheck's version, commit and build date").In(io.Lang),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(io.Out, CurrentBuild().Line(io.Lang))
			return nil
		},
	}
}
