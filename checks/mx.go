package checks

import "context"

// checkMX is being written: see the issue notes.
func checkMX(ctx context.Context, env *Env, domain string) Result {
	return Result{}
}
