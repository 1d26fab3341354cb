// Command mailcheck diagnoses mail configuration: DNS policy records and the
// live servers behind them. See README.md and SPEC.md.
package main

import (
	"os"

	"github.com/mailcheck-cli/mailcheck/internal/cli"
)

func main() { os.Exit(cli.Main()) }
