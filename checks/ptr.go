package checks

import "context"

// checkPTR is being written: see the issue notes.
func checkPTR(ctx context.Context, env *Env, domain string) Result {
	return Result{}
}
