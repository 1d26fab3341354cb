package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// localizeHelp writes in io.Lang the parts of the help that the commands
// do not write themselves: cobra's usage words ("Usage:", "Flags:" ...),
// its help and completion commands, the -h and --version flags, and the
// flags every network command shares (see flagUsage). Each command writes
// its own Short, Long and flag usages with finding.T(...).In(io.Lang). In
// English nothing is touched: the help is exactly cobra's.
func localizeHelp(root *cobra.Command, io *IOStreams) {
	l := io.Lang
	if l == "" || l == finding.English {
		return
	}
	root.SetUsageFunc(func(c *cobra.Command) error { return writeUsage(c.OutOrStderr(), c, l) })

	// cobra adds these when it executes; add them now to write them in l.
	// The completion subcommands print to the writer they capture here.
	root.SetOut(io.Out)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag()
	if f := root.Flags().Lookup("version"); f != nil {
		f.Usage = finding.T("version for %s", root.Name()).In(l)
	}

	shared := sharedFlagUsages()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.Name() == "help" && c.Parent() == root:
			c.Short = finding.T("Help about any command").In(l)
			c.Long = finding.T("Help provides help for any command in the application.\nSimply type %s help [path to command] for full details.", root.Name()).In(l)
		case c.Name() == "completion" && c.Parent() == root:
			c.Short = finding.T("Generate the autocompletion script for the specified shell").In(l)
			c.Long = finding.T("Generate the autocompletion script for %[1]s for the specified shell.\nSee each sub-command's help for details on how to use the generated script.\n", root.Name()).In(l)
		case c.Parent() != nil && c.Parent().Name() == "completion" && c.Parent().Parent() == root:
			c.Short = finding.T("Generate the autocompletion script for %s", c.Name()).In(l)
			c.Long = completionLong(c.Name(), root.Name(), l)
		}
		c.InitDefaultHelpFlag()
		if f := c.Flags().Lookup("help"); f != nil {
			f.Usage = finding.T("help for %s", c.Name()).In(l)
		}
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				for _, u := range shared {
					if f.Usage == u.String() {
						f.Usage = u.In(l)
					}
				}
				if f.Name == "no-descriptions" {
					f.Usage = finding.T("disable completion descriptions").In(l)
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completionLong is the help of `completion SHELL`: how to load the script.
func completionLong(shell, name string, l finding.Lang) string {
	switch shell {
	case "bash":
		return finding.T(`Generate the autocompletion script for the bash shell.

This script depends on the 'bash-completion' package.
If it is not installed already, you can install it via your OS's package manager.

To load completions in your current shell session:

	source <(%[1]s completion bash)

To load completions for every new session, execute once:

#### Linux:

	%[1]s completion bash > /etc/bash_completion.d/%[1]s

#### macOS:

	%[1]s completion bash > $(brew --prefix)/etc/bash_completion.d/%[1]s

You will need to start a new shell for this setup to take effect.
`, name).In(l)
	case "zsh":
		return finding.T(`Generate the autocompletion script for the zsh shell.

If shell completion is not already enabled in your environment you will need
to enable it.  You can execute the following once:

	echo "autoload -U compinit; compinit" >> ~/.zshrc

To load completions in your current shell session:

	source <(%[1]s completion zsh)

To load completions for every new session, execute once:

#### Linux:

	%[1]s completion zsh > "${fpath[1]}/_%[1]s"

#### macOS:

	%[1]s completion zsh > $(brew --prefix)/share/zsh/site-functions/_%[1]s

You will need to start a new shell for this setup to take effect.
`, name).In(l)
	case "fish":
		return finding.T(`Generate the autocompletion script for the fish shell.

To load completions in your current shell session:

	%[1]s completion fish | source

To load completions for every new session, execute once:

	%[1]s completion fish > ~/.config/fish/completions/%[1]s.fish

You will need to start a new shell for this setup to take effect.
`, name).In(l)
	case "powershell":
		return finding.T(`Generate the autocompletion script for powershell.

To load completions in your current shell session:

	%[1]s completion powershell | Out-String | Invoke-Expression

To load completions for every new session, add the output of the above command
to your powershell profile.
`, name).In(l)
	}
	return ""
}

// writeUsage is cobra's usage text (its defaultUsageFunc, which cobra keeps
// equivalent to its usage template) with its words written in l. It is a
// function rather than a template because two of those words are not the
// template's: the " [flags]" of the use line and pflag's "(default …)",
// which a template could only rewrite through cobra's package-global
// template functions.
func writeUsage(w io.Writer, c *cobra.Command, l finding.Lang) error {
	fmt.Fprint(w, finding.T("Usage:").In(l))
	if c.Runnable() {
		line := c.UseLine()
		if strings.HasSuffix(line, " [flags]") {
			line = strings.TrimSuffix(line, " [flags]") + " " + finding.T("[flags]").In(l)
		}
		fmt.Fprintf(w, "\n  %s", line)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n  %s %s", c.CommandPath(), finding.T("[command]").In(l))
	}
	if len(c.Aliases) > 0 {
		fmt.Fprintf(w, "\n\n%s\n  %s", finding.T("Aliases:").In(l), c.NameAndAliases())
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\n\n%s\n%s", finding.T("Examples:").In(l), c.Example)
	}
	if c.HasAvailableSubCommands() {
		cmds := c.Commands()
		listed := func(sub *cobra.Command) bool { return sub.IsAvailableCommand() || sub.Name() == "help" }
		if len(c.Groups()) == 0 {
			fmt.Fprintf(w, "\n\n%s", finding.T("Available Commands:").In(l))
			for _, sub := range cmds {
				if listed(sub) {
					fmt.Fprintf(w, "\n  %s %s", padRight(sub.Name(), sub.NamePadding()), sub.Short)
				}
			}
		} else {
			for _, g := range c.Groups() {
				fmt.Fprintf(w, "\n\n%s", g.Title)
				for _, sub := range cmds {
					if sub.GroupID == g.ID && listed(sub) {
						fmt.Fprintf(w, "\n  %s %s", padRight(sub.Name(), sub.NamePadding()), sub.Short)
					}
				}
			}
			if !c.AllChildCommandsHaveGroup() {
				fmt.Fprintf(w, "\n\n%s", finding.T("Additional Commands:").In(l))
				for _, sub := range cmds {
					if sub.GroupID == "" && listed(sub) {
						fmt.Fprintf(w, "\n  %s %s", padRight(sub.Name(), sub.NamePadding()), sub.Short)
					}
				}
			}
		}
	}
	if c.HasAvailableLocalFlags() {
		fmt.Fprintf(w, "\n\n%s\n%s", finding.T("Flags:").In(l), flagUsages(c.LocalFlags(), l))
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(w, "\n\n%s\n%s", finding.T("Global Flags:").In(l), flagUsages(c.InheritedFlags(), l))
	}
	if c.HasHelpSubCommands() {
		fmt.Fprintf(w, "\n\n%s", finding.T("Additional help topics:").In(l))
		for _, sub := range c.Commands() {
			if sub.IsAdditionalHelpTopicCommand() {
				fmt.Fprintf(w, "\n  %s %s", padRight(sub.CommandPath(), sub.CommandPathPadding()), sub.Short)
			}
		}
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n\n%s", finding.T("Use \"%s [command] --help\" for more information about a command.", c.CommandPath()).In(l))
	}
	fmt.Fprintln(w)
	return nil
}

// flagUsages is pflag's flag list with the opening of its "(default …)"
// notes written in l.
func flagUsages(fs *pflag.FlagSet, l finding.Lang) string {
	return strings.TrimRight(strings.ReplaceAll(fs.FlagUsages(), " (default ", finding.T(" (default ").In(l)), " \t\n")
}

// padRight pads s with spaces to n runes, as cobra's rpad does.
func padRight(s string, n int) string {
	return fmt.Sprintf("%-*s", n, s)
}
