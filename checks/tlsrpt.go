package checks

import "context"

// checkTLSRPT is being written: see the issue notes.
func checkTLSRPT(ctx context.Context, env *Env, domain string) Result {
	return Result{}
}
