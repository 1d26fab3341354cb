package cli

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/message"
	"github.com/mailcheck-cli/mailcheck/report"
)

// MessageOptions are the inputs of `mailcheck message`.
type MessageOptions struct {
	IO  *IOStreams
	Net NetFlags
	// File is the message to read; "-" (or empty, with standard input
	// not a terminal) reads standard input.
	File        string
	TrustedHops []string
}

// NewCmdMessage builds `mailcheck message [FILE|-]`.
func NewCmdMessage(io *IOStreams, runF func(context.Context, *MessageOptions) error) *cobra.Command {
	opts := &MessageOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "message [FILE|-]",
		Short: "Analyse a received message or pasted headers: DKIM, SPF, DMARC, receivers' verdicts, route, bounces",
		Long: `message reads one message (a .eml file, a message saved from a mail client, or headers
pasted alone) and checks it as its receivers did: every DKIM signature verified against the
key published now, SPF evaluated for the address that connected to the first trusted receiver,
DMARC alignment and the policy's disposition for the From domain, each receiver's
Authentication-Results compared with mailcheck's own verdict, and the Received route with the
delay and TLS of each hop. A bounce (delivery status notification) is recognised and each
failed recipient explained.

The connecting address is taken from the topmost Received header whose client is a public
address in another organisation than the receiver: where the message entered the receiving
network. Name the receiving host whose header to trust with --trusted-hop when mail passes a
gateway first.`,
		Example: `  mailcheck message message.eml
  mailcheck message - < headers.txt
  mailcheck message bounce.eml --format json
  mailcheck message message.eml --trusted-hop mx.example.com`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return messageRun(cmd.Context(), opts)
		},
	}
	opts.Net.register(cmd)
	cmd.Flags().StringArrayVar(&opts.TrustedHops, "trusted-hop", nil,
		"a receiving host (or domain) whose Received header names the connecting client (repeatable)")
	return cmd
}

func messageRun(ctx context.Context, opts *MessageOptions) error {
	var hops []string
	for _, h := range opts.TrustedHops {
		nh, err := normaliseHost(h)
		if err != nil {
			return usageErrorf("--trusted-hop: %v", err)
		}
		hops = append(hops, nh)
	}
	data, source, err := readMessage(opts)
	if err != nil {
		return err
	}
	n, err := opts.Net.build(opts.IO)
	if err != nil {
		return err
	}
	ctx, cancel := n.runContext(ctx)
	defer cancel()

	started := time.Now()
	a, err := message.Analyze(ctx, &message.Env{Resolver: n.Resolver}, data, message.Options{Source: source, TrustedHops: hops})
	if err != nil {
		return usageErrorf("%s: %v", source, err)
	}
	target := source
	if target == "-" {
		target = "stdin"
	}
	rep := finding.Report{
		Schema: finding.Schema, Target: target, Started: started.UTC(),
		DurationMS: time.Since(started).Milliseconds(),
		Findings:   a.Findings, Message: a.Message,
	}
	reports := []finding.Report{rep}
	if err := report.Render(opts.IO.Out, reports, n.Render); err != nil {
		return err
	}
	if code := n.exitCode(reports); code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// readMessage reads the file or standard input, bounded by
// message.MaxSize. Every problem is a usage error (exit 2).
func readMessage(opts *MessageOptions) ([]byte, string, error) {
	var r io.Reader
	source := opts.File
	switch {
	case source == "-" || (source == "" && !opts.IO.InTTY):
		source, r = "-", opts.IO.In
	case source == "":
		return nil, "", usageErrorf("no message given: mailcheck message FILE, or paste it into mailcheck message -")
	default:
		f, err := os.Open(source)
		if err != nil {
			return nil, "", usageErrorf("%v", unwrapPath(err))
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return nil, "", usageErrorf("no message on standard input")
	}
	data, err := io.ReadAll(io.LimitReader(r, message.MaxSize+1))
	if err != nil {
		return nil, "", usageErrorf("reading %s: %v", source, err)
	}
	switch {
	case len(data) > message.MaxSize:
		return nil, "", usageErrorf("%s: larger than %d MB; mailcheck reads one message at a time", source, message.MaxSize>>20)
	case len(data) == 0:
		return nil, "", usageErrorf("%s: empty input", source)
	}
	return data, source, nil
}
