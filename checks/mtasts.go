package checks

import "context"

// checkMTASTS is being written: see the issue notes.
func checkMTASTS(ctx context.Context, env *Env, domain string) Result {
	return Result{}
}
