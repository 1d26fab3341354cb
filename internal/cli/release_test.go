package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestReleaseConfigMatchesTheCode: .goreleaser.yaml builds what the README
// promises and sets the variables this package reads. goreleaser check
// validates the schema where goreleaser is installed; this test keeps the
// configuration and the code in step on every run.
func TestReleaseConfigMatchesTheCode(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version int `yaml:"version"`
		Before  struct {
			Hooks []string `yaml:"hooks"`
		} `yaml:"before"`
		Builds []struct {
			Main    string   `yaml:"main"`
			Binary  string   `yaml:"binary"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
			Ldflags []string `yaml:"ldflags"`
		} `yaml:"builds"`
		Archives []struct {
			Files []string `yaml:"files"`
		} `yaml:"archives"`
		Checksum struct {
			Algorithm string `yaml:"algorithm"`
		} `yaml:"checksum"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Version != 2 || len(cfg.Builds) != 1 || len(cfg.Archives) != 1 {
		t.Fatalf("want goreleaser v2 with one build and one archive, got %+v", cfg)
	}
	b := cfg.Builds[0]
	if b.Main != "./cmd/mailcheck" || b.Binary != "mailcheck" {
		t.Errorf("build main %q binary %q", b.Main, b.Binary)
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		if !slices.Contains(b.Goos, goos) {
			t.Errorf("no %s build", goos)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if !slices.Contains(b.Goarch, arch) {
			t.Errorf("no %s build", arch)
		}
	}
	ldflags := strings.Join(b.Ldflags, " ")
	// The variables exist (this compiles) and the release sets each one.
	_, _, _ = Version, Commit, Date
	for _, v := range []string{"Version={{ .Version }}", "Commit={{ .FullCommit }}", "Date={{ .CommitDate }}"} {
		if !strings.Contains(ldflags, "-X github.com/mailcheck-cli/mailcheck/internal/cli."+v) {
			t.Errorf("ldflags do not set internal/cli.%s: %s", v, ldflags)
		}
	}
	for _, f := range []string{"LICENSE", "README.md", "docs/*.md", "docs/**/*", "completions/*", "manpages/*"} {
		if !slices.Contains(cfg.Archives[0].Files, f) {
			t.Errorf("the archives lack %s", f)
		}
	}
	hooks := strings.Join(cfg.Before.Hooks, "\n")
	for _, want := range []string{"completion bash", "completion zsh", "completion fish", "./cmd/mailcheck man manpages"} {
		if !strings.Contains(hooks, want) {
			t.Errorf("no before hook runs %q", want)
		}
	}
	if cfg.Checksum.Algorithm != "sha256" {
		t.Errorf("checksum algorithm %q", cfg.Checksum.Algorithm)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "LICENSE")); err != nil {
		t.Errorf("no LICENSE: %v", err)
	}
}
