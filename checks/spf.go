package checks

import "context"

// checkSPF is being written: see the issue notes.
func checkSPF(ctx context.Context, env *Env, domain string) Result {
	return Result{}
}
