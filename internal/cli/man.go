package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/internal/docgen"
)

// NewCmdMan builds `mailcheck man DIR`, which writes the man pages that
// release archives carry. It is hidden: packagers run it, users read the
// pages it writes.
func NewCmdMan(io *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  finding.T("Write mailcheck's man pages (section 1) into DIR").In(io.Lang),
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := CurrentBuild()
			h := docgen.ManHeader{Version: b.Version, Date: manDate(b, io.getenv("SOURCE_DATE_EPOCH"))}
			// The pages describe the commands in English, whatever the
			// locale of the machine that builds the release.
			en := &IOStreams{Lang: finding.English}
			if err := docgen.Man(NewRootCmd(en), args[0], h); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			return nil
		},
	}
}

// manDate is the date the pages carry: the build's (the commit's time, or
// the release's), else SOURCE_DATE_EPOCH (reproducible builds), else zero,
// which lets the generator take today.
func manDate(b Build, epoch string) time.Time {
	if t, err := time.Parse(time.RFC3339, b.Date); err == nil {
		return t
	}
	if s, err := strconv.ParseInt(epoch, 10, 64); err == nil {
		return time.Unix(s, 0)
	}
	return time.Time{}
}
